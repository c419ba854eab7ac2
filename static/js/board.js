// The deals board: "Show more" under a column asks for the cards after the ones the column holds now
// (drops change that number). Dragging the cards is app.js's sortable behaviour (data-sortable on each
// column's list). No inline scripts: the page's CSP forbids them. Loaded again by a boosted navigation to
// the board: its listener is installed once.
(function () {
  "use strict";
  if (window.leadforgeBoard) return;
  window.leadforgeBoard = true;

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.matches || !elt.matches("[data-column-more]")) return;
    var list = document.getElementById("cards-" + elt.getAttribute("data-column-more"));
    if (list) event.detail.parameters.offset = list.querySelectorAll("[data-sortable-id]").length;
  });
})();

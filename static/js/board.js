// The deals board and the pipelines page: drag deal cards between and within columns, drag stages into
// order (SortableJS, static/vendor/Sortable.min.js, loaded before this file on those two pages only).
// The server is the source of truth: every drop is posted; it answers with the columns' new counts and
// totals (swapped out of band), or refuses (422) and sends the whole board as it is saved. Any other
// failure reloads the board from the server. No inline scripts: the page's CSP forbids them.
(function () {
  "use strict";

  if (window.leadforgeBoard) { // loaded again by a boosted navigation: only wire the new page
    window.leadforgeBoard.init();
    return;
  }

  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

  function attributeOf(list, selector, attribute) {
    return Array.prototype.map.call(list.querySelectorAll(selector), function (el) { return el.getAttribute(attribute); });
  }

  // The board's filters go with every request, so the counts and totals that come back match the cards shown.
  function filterValues() {
    var values = {};
    var form = document.getElementById("board-filters");
    if (form) new FormData(form).forEach(function (value, key) { values[key] = value; });
    return values;
  }

  function reloadBoard() {
    if (!document.getElementById("board")) return;
    htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#board", swap: "outerHTML" });
  }

  function onCardDrop(event) {
    var card = event.item, list = event.to;
    if (event.from === list && event.oldIndex === event.newIndex) return;
    var values = filterValues();
    values.stage_id = list.getAttribute("data-stage-id");
    values.order = attributeOf(list, ".deal-card", "data-deal-id");
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    htmx.ajax("POST", card.getAttribute("data-move-url"), {
      source: card, target: "#board", swap: "none", values: values, headers: csrfHeaders()
    });
  }

  function onStageDrop(event) {
    var list = event.to;
    if (event.oldIndex === event.newIndex) return;
    htmx.ajax("POST", list.getAttribute("data-stage-order"), {
      source: list, target: list.getAttribute("data-stage-target"), swap: "outerHTML",
      values: { stage_ids: attributeOf(list, ".stage-row", "data-stage-id") }, headers: csrfHeaders()
    });
  }

  // The browser's own drag and drop with a mouse; SortableJS emulates it for touch, where a long press
  // drags and a swipe scrolls the board.
  var shared = {
    animation: 150,
    fallbackOnBody: true,
    fallbackTolerance: 4,     // a tap on the card's link stays a tap
    delay: 180, delayOnTouchOnly: true,
    scroll: true, bubbleScroll: true
  };

  function options(extra) {
    var merged = {};
    Object.keys(shared).forEach(function (key) { merged[key] = shared[key]; });
    Object.keys(extra).forEach(function (key) { merged[key] = extra[key]; });
    return merged;
  }

  function init() {
    if (!window.Sortable) return;
    var board = document.getElementById("board");
    if (board && board.getAttribute("data-editable") === "true") {
      board.querySelectorAll(".board-cards").forEach(function (list) {
        if (Sortable.get(list)) return;
        Sortable.create(list, options({
          group: "deals-" + board.getAttribute("data-pipeline-id"),
          draggable: ".deal-card",
          ghostClass: "deal-card-ghost", chosenClass: "deal-card-chosen", dragClass: "deal-card-drag",
          onEnd: onCardDrop
        }));
      });
    }
    document.querySelectorAll("[data-stage-order]").forEach(function (list) {
      if (Sortable.get(list)) return;
      Sortable.create(list, options({
        draggable: ".stage-row", handle: ".drag-handle", ghostClass: "stage-row-ghost", onEnd: onStageDrop
      }));
    });
  }

  // "Show more" asks for the cards after the ones in the column now (drops change that number).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.matches || !elt.matches("[data-column-more]")) return;
    var list = document.getElementById("cards-" + elt.getAttribute("data-column-more"));
    if (list) event.detail.parameters.offset = list.querySelectorAll(".deal-card").length;
  });

  function isCard(elt) { return elt && elt.classList && elt.classList.contains("deal-card"); }

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!isCard(elt)) return;
    elt.classList.remove("is-saving");
    elt.removeAttribute("aria-busy");
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    // 422 brings the saved board with it; anything else that failed (404, 403, 5xx, offline): ask for it.
    if ((event.detail.failed || !event.detail.successful) && status !== 422) reloadBoard();
  });

  document.addEventListener("htmx:load", init);
  document.addEventListener("htmx:afterSettle", init);
  window.leadforgeBoard = { init: init, reload: reloadBoard };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

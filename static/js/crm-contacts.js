// Contacts list: "select this page" and the selection count of the bulk bar. Loaded by the contacts
// list page; safe to load again after a boosted navigation (it installs its listeners once).
(function () {
  "use strict";
  if (window.leadforgeContacts) return;
  window.leadforgeContacts = true;

  function rows(form) { return Array.prototype.slice.call(form.querySelectorAll('input[name="ids"]')); }

  function refresh(form) {
    var boxes = rows(form);
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    var all = form.querySelector("[data-select-all]");
    var page = form.querySelector("[data-select-page]");
    var label = form.querySelector("[data-selection-label]");
    if (page) {
      page.checked = boxes.length > 0 && ticked === boxes.length;
      page.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    if (label) {
      label.textContent = all && all.checked ? "All matching selected"
        : ticked ? ticked + " selected" : "Select this page";
    }
    form.classList.toggle("ct-has-selection", ticked > 0 || !!(all && all.checked));
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.closest && target.closest("#bulk-form");
    if (!form) return;
    if (target.matches("[data-select-page]")) {
      rows(form).forEach(function (box) { box.checked = target.checked; });
      var all = form.querySelector("[data-select-all]");
      if (all && !target.checked) all.checked = false;
    } else if (target.matches("[data-select-all]")) {
      if (target.checked) rows(form).forEach(function (box) { box.checked = true; });
    } else if (target.matches('input[name="ids"]') && !target.checked) {
      var everything = form.querySelector("[data-select-all]");
      if (everything) everything.checked = false;
    }
    refresh(form);
  });

  function init() {
    var form = document.getElementById("bulk-form");
    if (form) refresh(form);
  }
  document.addEventListener("htmx:afterSettle", init);
  document.addEventListener("DOMContentLoaded", init);
  init();
})();

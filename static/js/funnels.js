// Funnel pages: the live preview of a funnel's or step's public address while its name or slug is typed,
// the total of a new split test's traffic shares, and the scaled preview frames of the versions pages.
// Dragging the steps into order is app.js's sortable behaviour (data-sortable on the list). No inline
// scripts (CSP).
(function () {
  "use strict";

  if (window.leadforgeFunnels) { // loaded again by a boosted navigation: only wire the new page
    window.leadforgeFunnels.init();
    return;
  }

  // As app/funnels/services.py slugify(): accents dropped, lower case, dashes, at most 60 characters.
  function slugify(text) {
    return (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
  }

  function updateAddress(preview) {
    var form = preview.closest("form");
    if (!form) return;
    var slugInput = form.querySelector("[data-slug-input]");
    var source = form.querySelector("[data-slug-source]");
    var output = preview.querySelector("[data-slug-output]");
    var typed = slugInput ? slugInput.value.trim() : "";
    var slug = typed ? slugify(typed) : slugify(source ? source.value : "");
    if (!slug && !typed) slug = preview.getAttribute("data-current") || "";
    output.textContent = slug || (typed ? "…" : "your-funnel");
    preview.classList.toggle("is-refused", Boolean(typed) && !slug);
  }

  // The version preview: the page drawn at a desktop (or, in a narrow box, phone) width, scaled to fit.
  function scalePreview(box) {
    var frame = box.querySelector(".fn-preview-frame");
    if (!frame) return;
    var width = box.clientWidth;
    if (!width || String(width) === box.dataset.scaledWidth) return; // only the width matters
    box.dataset.scaledWidth = String(width);
    var design = width >= 760 ? 1280 : 390;
    var scale = Math.min(1, width / design);
    var height = Math.round(Math.max(640, box.getAttribute("data-height") || 900));
    frame.style.width = design + "px";
    frame.style.height = height + "px";
    frame.style.transform = "scale(" + scale + ")";
    box.style.height = Math.round(height * scale) + "px";
    box.classList.add("is-scaled");
  }

  // A new split test: the total of the traffic shares while they are typed (the server checks it too).
  function updateSplitTotal(form) {
    var total = 0, bad = false;
    form.querySelectorAll("[data-split-weight]").forEach(function (input) {
      var text = input.value.trim().replace(/%$/, "");
      if (!text) return;
      if (!/^\d+$/.test(text)) { bad = true; return; }
      total += parseInt(text, 10);
    });
    var line = form.querySelector("[data-split-total]");
    if (!line) return;
    line.querySelector("[data-split-sum]").textContent = bad ? "?" : String(total);
    var off = bad || total !== 100;
    line.classList.toggle("is-off", off);
    line.querySelector("[data-split-note]").textContent = bad ? "— use whole numbers" :
      (total > 100 ? "— " + (total - 100) + "% too many: it must be 100%" :
       (total < 100 ? "— " + (100 - total) + "% left to share: it must be 100%" : "✓"));
  }

  function init() {
    document.querySelectorAll("[data-split-form]").forEach(updateSplitTotal);
    document.querySelectorAll("[data-slug-preview]").forEach(function (preview) {
      if (preview.dataset.wired) return;
      preview.dataset.wired = "1";
      var form = preview.closest("form");
      if (!form) return;
      form.addEventListener("input", function (event) {
        if (event.target.matches("[data-slug-input], [data-slug-source]")) updateAddress(preview);
      });
      updateAddress(preview);
    });
    document.querySelectorAll(".fn-preview-box").forEach(watchPreview);
  }

  // Rescaled whenever the box changes width (window resized, phone turned).
  var resized = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) { scalePreview(entry.target); });
  }) : null;

  function watchPreview(box) {
    scalePreview(box);
    if (resized && !box.dataset.watched) {
      box.dataset.watched = "1";
      resized.observe(box);
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-split-weight]")) updateSplitTotal(event.target.closest("[data-split-form]"));
  });
  document.addEventListener("htmx:load", init);
  window.leadforgeFunnels = { init: init, slugify: slugify };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

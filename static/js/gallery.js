// Template previews: the desktop preview is a 1280 px wide page scaled down to fit the stage, so the
// published page's desktop layout (and its hide-on-desktop rules) show as visitors on a laptop see them.
(function () {
  "use strict";
  var WIDTH = 1280;

  function fit() {
    var stages = document.querySelectorAll(".tpl-stage--desktop");
    for (var i = 0; i < stages.length; i++) {
      var stage = stages[i];
      var frame = stage.querySelector(".tpl-frame");
      if (!frame) continue;
      var padding = parseFloat(getComputedStyle(stage).paddingLeft) || 0;
      var available = stage.clientWidth - 2 * padding;
      if (available >= WIDTH || available <= 0) {
        stage.classList.remove("is-scaled");
        frame.removeAttribute("style");
        stage.style.height = "";
        continue;
      }
      var scale = available / WIDTH;
      var visible = Math.max(480, Math.min(window.innerHeight * 0.78, 900));
      stage.classList.add("is-scaled");
      frame.style.width = WIDTH + "px";
      frame.style.height = Math.round(visible / scale) + "px";
      frame.style.transform = "scale(" + scale.toFixed(4) + ")";
      stage.style.height = Math.round(visible + 2 * padding) + "px";
      var note = document.querySelector("[data-preview-scale]");
      if (note) note.textContent = "Shown at " + Math.round(scale * 100) + "% of a 1280 px wide screen.";
    }
  }

  if (window.leadforgeFitPreview) { window.leadforgeFitPreview(); return; } // run again after a boosted swap
  window.leadforgeFitPreview = fit;
  window.addEventListener("resize", fit);
  document.addEventListener("htmx:afterSettle", fit);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fit); else fit();
})();

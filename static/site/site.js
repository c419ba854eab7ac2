/* Leadforge published pages: countdowns and forms. Loaded with defer; no dependencies. */
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function paint(el, ms) {
    var clock = el.querySelector(".lf-clock");
    var expired = el.querySelector(".lf-countdown__expired");
    if (ms <= 0) {
      if (clock) clock.hidden = true;
      if (expired) expired.hidden = false;
      return false;
    }
    var s = Math.floor(ms / 1000);
    var values = { d: Math.floor(s / 86400), h: Math.floor(s % 86400 / 3600), m: Math.floor(s % 3600 / 60), s: s % 60 };
    var nums = el.querySelectorAll("[data-unit]");
    for (var i = 0; i < nums.length; i++) {
      var text = pad(values[nums[i].getAttribute("data-unit")]);
      if (nums[i].textContent !== text) nums[i].textContent = text;
    }
    if (clock) clock.hidden = false;
    if (expired) expired.hidden = true;
    return true;
  }

  // The end of an evergreen countdown: the visitor's first visit plus the minutes, kept per element.
  function evergreenEnd(el) {
    var minutes = parseInt(el.getAttribute("data-minutes"), 10) || 0;
    var key = el.getAttribute("data-key");
    var now = Date.now();
    var start = now;
    try {
      var saved = parseInt(window.localStorage.getItem(key), 10);
      if (saved && saved <= now) start = saved;
      else window.localStorage.setItem(key, String(now));
    } catch (e) { /* storage blocked: count from this visit */ }
    return start + minutes * 60000;
  }

  function startCountdowns() {
    var timers = [];
    var els = document.querySelectorAll(".lf-countdown");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var end = el.hasAttribute("data-deadline") ? Date.parse(el.getAttribute("data-deadline"))
        : el.hasAttribute("data-minutes") ? evergreenEnd(el) : NaN;
      if (!isNaN(end)) timers.push({ el: el, end: end });
    }
    if (!timers.length) return;
    function tick() {
      var now = Date.now();
      timers = timers.filter(function (t) { return paint(t.el, t.end - now); });
      if (timers.length) window.setTimeout(tick, 1000 - (now % 1000));
    }
    tick();
  }

  // One submit per form: the button is disabled after the first submit (a second click does nothing).
  function guardForms() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (event.defaultPrevented || !form.classList || !form.classList.contains("lf-form")) return;
      if (form.getAttribute("data-submitted")) { event.preventDefault(); return; }
      form.setAttribute("data-submitted", "1");
      var buttons = form.querySelectorAll("button[type=submit]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = true;
        buttons[i].setAttribute("aria-busy", "true");
      }
    });
    // Coming back with the back button (page cache) must not leave the form locked.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      var forms = document.querySelectorAll(".lf-form[data-submitted]");
      for (var i = 0; i < forms.length; i++) {
        forms[i].removeAttribute("data-submitted");
        var buttons = forms[i].querySelectorAll("button[type=submit]");
        for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; buttons[j].removeAttribute("aria-busy"); }
      }
    });
  }

  // A form sent back with its errors: the page opens on the list of problems, not at its top.
  function showFormErrors() {
    var summary = document.querySelector(".lf-form__summary");
    if (!summary) return;
    summary.setAttribute("tabindex", "-1");
    summary.scrollIntoView({ block: "center" });
    summary.focus({ preventScroll: true });
  }

  if (document.querySelector(".lf-editing")) return; // the builder canvas stays still
  startCountdowns();
  guardForms();
  showFormErrors();
})();

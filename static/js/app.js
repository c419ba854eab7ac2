// Leadforge UI behaviour: small, dependency-free, and safe to run again after every htmx swap.
(function () {
  "use strict";

  // htmx: swap 422 responses (forms re-rendered with their errors); report other errors in a toast.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: false, error: true },
    ];
    htmx.config.historyCacheSize = 0; // a history restore re-fetches a full page from the server
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    var p = document.createElement("p");
    p.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    el.appendChild(p);
    el.appendChild(close);
    box.appendChild(el);
    autoDismiss(el);
  }
  window.leadforgeToast = toast;

  function autoDismiss(el) {
    if (el.dataset.timer) return;
    el.dataset.timer = "1";
    setTimeout(function () { el.remove(); }, el.classList.contains("toast-error") ? 10000 : 6000);
  }

  function init(root) {
    root.querySelectorAll(".toast").forEach(autoDismiss);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var closeToast = target.closest(".toast button");
    if (closeToast) { closeToast.closest(".toast").remove(); return; }

    var opener = target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = target.closest("[data-dialog-close]");
    if (closer) { event.preventDefault(); closer.closest("dialog").close(); return; }

    var copy = target.closest("[data-copy]");
    if (copy) {
      var text = document.getElementById(copy.getAttribute("data-copy")).textContent.trim();
      navigator.clipboard.writeText(text).then(function () {
        copy.textContent = "Copied";
        toast("Copied to the clipboard.", "success");
      }, function () { toast("Copy failed: select the text and copy it by hand.", "error"); });
      return;
    }

    var menu = target.closest("[data-nav-toggle]");
    if (menu) {
      var shell = document.querySelector(".shell");
      var open = shell.classList.toggle("nav-open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    if (document.querySelector(".shell.nav-open") && !target.closest(".sidebar")) {
      document.querySelector(".shell").classList.remove("nav-open");
    }

    // Close open dropdowns when clicking elsewhere.
    document.querySelectorAll("details.dropdown[open]").forEach(function (details) {
      if (!details.contains(target)) details.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) { d.removeAttribute("open"); });
    var shell = document.querySelector(".shell.nav-open");
    if (shell) shell.classList.remove("nav-open");
  });

  // The reason the server gave: the message of its error page, or of a JSON error.
  function serverMessage(xhr) {
    try {
      if ((xhr.getResponseHeader("Content-Type") || "").indexOf("json") !== -1) {
        return JSON.parse(xhr.responseText).error.message;
      }
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var message = page.querySelector(".error-page p.muted");
      return message ? message.textContent.trim() : null;
    } catch (e) {
      return null;
    }
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var fallback = { 403: "Your role does not allow this.", 404: "That no longer exists.",
                     429: "Too many attempts. Wait a minute and try again." };
    var message = (xhr.status < 500 && serverMessage(xhr)) || fallback[xhr.status] ||
      "Something went wrong (" + xhr.status + "). Please try again.";
    toast(message, "error");
  });
  // Filters sent with GET leave out empty fields, so the URLs pushed to the history stay readable.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (event.detail.verb !== "get" || !data) return;
    Array.from(new Set(data.keys())).forEach(function (name) {
      if (data.getAll(name).every(function (value) { return value === ""; })) data.delete(name);
    });
  });

  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.", "error");
  });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();

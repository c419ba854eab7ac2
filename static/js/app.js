// Leadforge UI behaviour: small, dependency-free, and safe to run again after every htmx swap.
// window.Leadforge holds what the page scripts share: csrfHeaders(), toast(message, kind) and
// withSortable(callback). Sortable lists need no script of their own: see "Sortable lists" below.
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

  // The CSRF token as htmx sends it with every request: hx-headers on <body>, written by the
  // csrf_headers() macro in base.html and in the builder's editor; for requests made from a script.
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

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

  // ---- Sortable lists --------------------------------------------------------------------------------
  // A list whose items are dragged into order, written by the sortable() macro (components/macros.html):
  //   <ol data-sortable="URL"                  where the new order is posted (an item's own
  //                                              data-sortable-url wins: a deal card posts to its deal)
  //       data-sortable-name="step_ids"         the name the items' ids are posted under, in their new order
  //       data-sortable-target="#steps"         what the answer replaces (and what a failure reloads)
  //       data-sortable-swap="outerHTML"        or "none" when the answer swaps itself in (out of band)
  //       data-sortable-handle=".drag-handle"   optional: the part of an item that drags it
  //       data-sortable-group="deals-ID"        optional: lists of one group trade items (board columns)
  //       data-sortable-values='{"k": "v"}'     optional: more values posted with the order
  //       data-sortable-include="#form"         optional: a form whose values are posted too
  //       data-sortable-src="/static/vendor/Sortable.min.js">
  //     <li data-sortable-id="ID">…</li>        the items, each with its id
  // The server is the source of truth: every drop is posted and its answer swapped in; a refusal (422)
  // answers with the list as saved, any other failure reloads the target from the page's address.
  // The mouse drags with the browser's own drag and drop; touch with SortableJS's emulation, where a long
  // press drags and a swipe scrolls. Keyboard moves are the lists' own buttons (forms that post the order).

  // SortableJS is loaded once, by this file, from the address the page gives (data-sortable-src): a
  // <script> tag in the body would run again at every boosted navigation, and two copies of the library
  // fight over the same drag.
  function withSortable(callback) {
    if (window.Sortable) { callback(window.Sortable); return; }
    var holder = document.querySelector("[data-sortable-src]");
    if (holder) withLibrary("Sortable", holder.getAttribute("data-sortable-src"), callback);
  }

  // A vendored library (SortableJS, Chart.js) loaded once per document from `src`, then callback(window[name]).
  // Pages' scripts ask for it here, so two of them never load it twice.
  var libraryScripts = {};

  function withLibrary(name, src, callback) {
    if (window[name]) { callback(window[name]); return; }
    var script = libraryScripts[name] || document.querySelector('script[src="' + src + '"]');
    if (!script) {
      script = document.createElement("script");
      script.src = src;
      document.head.appendChild(script);
    }
    libraryScripts[name] = script;
    script.addEventListener("load", function () { callback(window[name]); }, { once: true });
  }

  function sortableItems(list) {
    return Array.prototype.filter.call(list.children, function (el) { return el.hasAttribute("data-sortable-id"); });
  }

  function jsonAttribute(el, name) {
    try { return JSON.parse(el.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }

  function addValue(values, key, value) {
    if (!(key in values)) values[key] = value;
    else values[key] = [].concat(values[key], value);
  }

  function sortableTarget(list) {
    return list.getAttribute("data-sortable-target") || (list.id ? "#" + list.id : null);
  }

  function postOrder(list, item) {
    var values = {};
    var include = list.getAttribute("data-sortable-include");
    var form = include ? document.querySelector(include) : null;
    if (form) new FormData(form).forEach(function (value, key) { addValue(values, key, value); });
    var extra = jsonAttribute(list, "data-sortable-values");
    Object.keys(extra).forEach(function (key) { values[key] = extra[key]; });
    values[list.getAttribute("data-sortable-name") || "ids"] = sortableItems(list).map(function (el) {
      return el.getAttribute("data-sortable-id");
    });
    item.classList.add("is-saving");
    list.setAttribute("aria-busy", "true");
    htmx.ajax("POST", item.getAttribute("data-sortable-url") || list.getAttribute("data-sortable"), {
      source: list, target: sortableTarget(list) || list, swap: list.getAttribute("data-sortable-swap") || "outerHTML",
      values: values, headers: csrfHeaders()
    });
  }

  function onSortableDrop(event) {
    if (event.from === event.to && event.oldIndex === event.newIndex) return;
    postOrder(event.to, event.item);
  }

  function sortableOptions(list) {
    var options = {
      draggable: "[data-sortable-id]", onEnd: onSortableDrop,
      animation: 150, fallbackOnBody: true, scroll: true, bubbleScroll: true,
      fallbackTolerance: 4,               // a tap on an item's link stays a tap
      delay: 180, delayOnTouchOnly: true  // touch: a long press drags, a swipe scrolls
    };
    if (list.getAttribute("data-sortable-handle")) options.handle = list.getAttribute("data-sortable-handle");
    if (list.getAttribute("data-sortable-group")) options.group = list.getAttribute("data-sortable-group");
    return options;
  }

  function initSortables(root) {
    var lists = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("[data-sortable]") : []);
    if (root.matches && root.matches("[data-sortable]")) lists.unshift(root);
    if (!lists.length) return;
    withSortable(function (Sortable) {
      lists.forEach(function (list) {
        if (document.body.contains(list) && !Sortable.get(list)) Sortable.create(list, sortableOptions(list));
      });
    });
  }

  // The answer came back: the list is idle again; anything but a refusal that failed reloads the target.
  document.addEventListener("htmx:afterRequest", function (event) {
    var list = event.detail.elt;
    if (!list || !list.hasAttribute || !list.hasAttribute("data-sortable")) return;
    list.removeAttribute("aria-busy");
    list.querySelectorAll(".is-saving").forEach(function (item) { item.classList.remove("is-saving"); });
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var target = sortableTarget(list);
    if ((event.detail.failed || !event.detail.successful) && status !== 422 && target && document.querySelector(target)) {
      htmx.ajax("GET", window.location.pathname + window.location.search, { target: target, select: target, swap: "outerHTML" });
    }
  });

  document.addEventListener("htmx:load", function (event) { initSortables(event.target); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
  document.addEventListener("DOMContentLoaded", function () { init(document); });

  window.Leadforge = { csrfHeaders: csrfHeaders, toast: toast, withSortable: withSortable, withLibrary: withLibrary };
})();

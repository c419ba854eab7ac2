// The page builder (templates/builder/editor.html). The server owns the page's element tree: every edit
// (a drop, a panel change, a keyboard action, undo/redo) is posted with the page's revision, and the
// answer carries the re-rendered parts of the canvas as <template data-swap="ELEMENT_ID"> (and the side
// panel as <template data-panel>), the new revision in X-Page-Revision. A refused edit (422) or a stale
// tab (409) is reported and the canvas is reloaded from the server. Every request goes through htmx and
// is queued on #builder (hx-sync), so edits reach the server one after the other, each with the revision
// the previous one returned. No inline scripts: the page's CSP forbids them.
(function () {
  "use strict";

  var root, canvasBox, panelBox, requests, state;
  var WRAP_PARENTS = { page: "page", section: "section", row: "row" };

  function $(selector, scope) { return (scope || document).querySelector(selector); }
  function $$(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }
  function inBuilder(elt) { return root && elt && (elt === root || root.contains(elt)); }
  function narrow() { return window.matchMedia("(max-width: 960px)").matches; }

  // ---- requests ---------------------------------------------------------------------------------------

  function url(name) { return root.getAttribute("data-url-" + name); }

  function post(name, values) {
    if (!state.editable) return;
    htmx.ajax("POST", url(name), { source: requests, swap: "none", values: values || {} });
  }

  function loadPanel(elementId) {
    var path = url("panel") + (elementId ? "?element_id=" + encodeURIComponent(elementId) : "");
    htmx.ajax("GET", path, { source: requests, target: panelBox, swap: "innerHTML" });
  }

  function reloadCanvas() {
    htmx.ajax("GET", url("canvas"), { source: requests, swap: "none" });
  }

  function setStatus(kind, text) {
    var status = $("#lf-status");
    if (!status) return;
    status.setAttribute("data-state", kind);
    $(".lf-status-text", status).textContent = text;
  }

  function applyHeaders(xhr) {
    var revision = xhr.getResponseHeader("X-Page-Revision");
    if (revision !== null && revision !== "") {
      state.revision = revision;
      root.setAttribute("data-revision", revision);
    }
    var undo = xhr.getResponseHeader("X-Undo"), redo = xhr.getResponseHeader("X-Redo");
    if (undo !== null && $("#lf-undo")) $("#lf-undo").disabled = undo !== "1";
    if (redo !== null && $("#lf-redo")) $("#lf-redo").disabled = redo !== "1";
  }

  function errorOf(xhr) {
    try {
      if ((xhr.getResponseHeader("Content-Type") || "").indexOf("json") !== -1) return JSON.parse(xhr.responseText).error;
    } catch (e) { /* not JSON: a plain error page */ }
    var fallback = { 403: "Your role does not allow editing this page.", 404: "This page no longer exists." };
    return { code: "error", message: fallback[xhr.status] || "The change could not be saved (" + xhr.status + "). Try again.", fields: {} };
  }

  // ---- applying the server's answer -------------------------------------------------------------------

  // An answer that arrives while an element is held for dragging (a panel edit saved late) waits for the
  // drop: replacing the dragged element under the pointer would break the drag.
  var holding = false, deferred = [];

  function applyAnswer(html, select) {
    if (holding) { deferred.push([html, select]); return; }
    var holder = document.createElement("template");
    holder.innerHTML = html;
    $$("template[data-swap]", holder.content).forEach(function (part) {
      var id = part.getAttribute("data-swap");
      var current = canvasBox.querySelector('[data-element-id="' + cssEscape(id) + '"]');
      if (current) current.replaceWith(part.content.cloneNode(true));
      else if (id === "root") { canvasBox.innerHTML = ""; canvasBox.appendChild(part.content.cloneNode(true)); }
    });
    var panel = $("template[data-panel]", holder.content);
    if (panel) {
      panelBox.innerHTML = "";
      panelBox.appendChild(panel.content.cloneNode(true));
      htmx.process(panelBox);
      initPanel();
    }
    if (select !== null && select !== undefined) state.selected = select || null;
    decorateCanvas();
  }

  function cssEscape(value) { return window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/"/g, '\\"'); }

  function elementNode(id) {
    return id ? canvasBox.querySelector('[data-element-id="' + cssEscape(id) + '"]') : null;
  }

  // Selection outline, drag lists, and the label each element shows on hover.
  function decorateCanvas() {
    $$(".lf-selected", canvasBox).forEach(function (el) { el.classList.remove("lf-selected"); });
    var selected = elementNode(state.selected);
    if (selected && state.selected !== "root") selected.classList.add("lf-selected");
    else if (state.selected && !selected) state.selected = null;
    initSortables();
  }

  function focusSelected() {
    var node = elementNode(state.selected);
    if (node && state.selected !== "root") { node.focus({ preventScroll: true }); node.scrollIntoView({ block: "nearest" }); }
  }

  // ---- selection --------------------------------------------------------------------------------------

  function flushPanel() {
    var form = $("#lf-panel-form");
    if (form && state.dirty) { state.dirty = false; htmx.trigger(form, "lf-flush"); }
  }

  function select(id, options) {
    options = options || {};
    if (id === "root") id = null;
    flushPanel();
    state.selected = id;
    decorateCanvas();
    loadPanel(id);
    var node = elementNode(id);
    if (node && options.scroll) node.scrollIntoView({ block: "center", behavior: "smooth" });
    if (node && options.focus) node.focus({ preventScroll: !!options.scroll });
    if (options.openPanel && narrow()) openDrawer("lf-panel");
  }

  function parentOf(id) {
    var node = elementNode(id);
    var parent = node && node.parentElement ? node.parentElement.closest("[data-element-id]") : null;
    return parent ? parent.getAttribute("data-element-id") : null;
  }

  // ---- element actions --------------------------------------------------------------------------------

  function act(action, id) {
    id = id || state.selected;
    if (action === "undo" || action === "redo") { post(action, { element_id: state.selected || "" }); return; }
    if (!id) { Leadforge.toast("Select an element first.", "info"); return; }
    if (action === "parent") { select(parentOf(id), { focus: true }); return; }
    flushPanel();
    if (action === "duplicate") post("duplicate", { element_id: id });
    else if (action === "delete") post("delete", { element_id: id });
    else if (action === "up" || action === "down") post("shift", { element_id: id, offset: action === "up" ? "-1" : "1" });
  }

  // ---- drag and drop (SortableJS) ---------------------------------------------------------------------

  function listParentType(list) {
    var owner = list.closest("[data-element-id]");
    return owner ? owner.getAttribute("data-type") : "page";
  }

  // May `type` go into `list`? Directly when the list accepts it; a new element from the library may also
  // go onto the page, a section or a row: the server wraps it into a section / row / column.
  function accepts(list, type, isNew) {
    if (!list || !list.classList.contains("lf-children")) return false;
    if ((list.getAttribute("data-accepts") || "").split(/\s+/).indexOf(type) !== -1) return true;
    if (!isNew) return false;
    var parentType = listParentType(list);
    if (!WRAP_PARENTS[parentType]) return false;
    if (state.content.indexOf(type) !== -1) return true;
    if (type === "columns") return parentType !== "row";
    if (type === "row") return parentType === "page";
    return false;
  }

  function draggedType(el) { return el.getAttribute("data-type"); }

  function onMove(event) {
    var dragged = event.dragged, to = event.to;
    if (dragged.contains(to)) return false; // never into itself
    return accepts(to, draggedType(dragged), dragged.classList.contains("lf-tile"));
  }

  function indexIn(list, item) {
    var index = 0;
    for (var node = list.firstElementChild; node && node !== item; node = node.nextElementSibling) {
      if (node.hasAttribute("data-element-id")) index++;
    }
    return index;
  }

  function held() { holding = true; }
  function dragStarted() { root.classList.add("is-dragging"); }

  // Sortable tells "unchoose" before "end": the drop handlers read the DOM first, the waiting answers
  // are applied after them.
  function released() {
    root.classList.remove("is-dragging");
    setTimeout(function () {
      holding = false;
      var waiting = deferred;
      deferred = [];
      waiting.forEach(function (answer) { applyAnswer(answer[0], answer[1]); });
    }, 0);
  }

  function onLibraryDrop(event) {
    var item = event.item, list = event.to;
    if (!list.classList.contains("lf-children")) return;
    var values = { type: draggedType(item), parent_id: list.getAttribute("data-parent-id"), index: indexIn(list, item) };
    item.remove(); // the server answers with the list re-rendered, the new element in it
    post("add", values);
  }

  function onCanvasDrop(event) {
    var item = event.item, list = event.to;
    if (event.from === list && event.oldIndex === event.newIndex) return;
    post("move", { element_id: item.getAttribute("data-element-id"), parent_id: list.getAttribute("data-parent-id"),
                   index: indexIn(list, item) });
  }

  var shared = {
    animation: 120, forceFallback: true, fallbackOnBody: true, swapThreshold: 0.6, invertSwap: false, emptyInsertThreshold: 16,
    fallbackTolerance: 4, delay: 180, delayOnTouchOnly: true, scroll: true, bubbleScroll: true,
    ghostClass: "lf-ghost", chosenClass: "lf-chosen", dragClass: "lf-dragging"
  };

  function options(extra) {
    var merged = {};
    Object.keys(shared).forEach(function (key) { merged[key] = shared[key]; });
    Object.keys(extra).forEach(function (key) { merged[key] = extra[key]; });
    return merged;
  }

  function initSortables() {
    if (!window.Sortable || !state.editable) return;
    $$(".lf-children", canvasBox).forEach(function (list) {
      if (Sortable.get(list)) return;
      Sortable.create(list, options({
        group: { name: "lf", pull: true, put: function (to, from, dragged) {
          return accepts(to.el, draggedType(dragged), dragged.classList.contains("lf-tile"));
        } },
        draggable: "[data-element-id]", filter: ".lf-placeholder", preventOnFilter: false,
        onMove: onMove, onEnd: onCanvasDrop, onChoose: held, onStart: dragStarted, onUnchoose: released
      }));
    });
    $$("[data-library]").forEach(function (list) {
      if (Sortable.get(list)) return;
      Sortable.create(list, options({
        group: { name: "lf", pull: "clone", put: false }, sort: false, draggable: ".lf-tile",
        onMove: onMove, onEnd: onLibraryDrop,
        onChoose: held, onStart: function () { dragStarted(); if (narrow()) closeDrawers(); },
        onUnchoose: released
      }));
    });
  }

  // ---- the side panel ---------------------------------------------------------------------------------

  function initPanel() {
    var form = $("#lf-panel-form");
    if (!form) return;
    $$("[data-show-if]", form).forEach(function (field) {
      var control = form.elements[field.getAttribute("data-show-if")];
      var values = field.getAttribute("data-show-values").split(" ");
      field.hidden = control ? values.indexOf(control.value) === -1 : false;
    });
  }

  function showFieldErrors(form, fields) {
    $$("[data-error-for]", form).forEach(function (p) {
      var name = p.getAttribute("data-error-for"), message = fields[name];
      p.textContent = message || "";
      p.hidden = !message;
      var field = p.closest(".field");
      if (field) field.classList.toggle("has-error", !!message);
      var input = form.querySelector('[name="' + cssEscape(name) + '"]:not([type=hidden])');
      if (input) { if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid"); }
    });
  }

  function syncColour(event) {
    var target = event.target;
    if (target.matches("input[type=color][data-color-for]")) {
      var text = document.getElementById(target.getAttribute("data-color-for"));
      if (text) { text.value = target.value; text.dispatchEvent(new Event("input", { bubbles: true })); }
      return true;
    }
    if (target.matches(".lf-color input[type=text]") && /^#[0-9a-fA-F]{6}$/.test(target.value)) {
      var swatch = target.parentElement.querySelector("input[type=color]");
      if (swatch) swatch.value = target.value.toLowerCase();
    }
    return false;
  }

  // ---- drawers (phones), popovers, device widths ------------------------------------------------------

  function openDrawer(id) {
    closeDrawers();
    var drawer = document.getElementById(id);
    if (!drawer) return;
    drawer.classList.add("is-open");
    root.classList.add("has-drawer");
    $$('[data-drawer="' + id + '"]').forEach(function (b) { b.setAttribute("aria-expanded", "true"); });
  }

  function closeDrawers() {
    $$(".lf-library.is-open, .lf-panel.is-open").forEach(function (d) { d.classList.remove("is-open"); });
    root.classList.remove("has-drawer");
    $$("[data-drawer]").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
  }

  function setDevice(device) {
    $("#lf-frame").setAttribute("data-device", device);
    $$(".lf-device").forEach(function (b) {
      var on = b.getAttribute("data-device") === device;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    try { localStorage.setItem("lf-builder-device", device); } catch (e) { /* private mode */ }
    fitFrame();
  }

  // A device width wider than the room between the library and the panel is shown scaled down, so the
  // page lays itself out as on that device (its breakpoints follow the frame: desktop from 1024 px).
  function fitFrame() {
    var frame = $("#lf-frame"), stage = $("#lf-stage");
    if (!frame || !stage) return;
    frame.style.zoom = "";
    var width = { desktop: 1024, tablet: 768, mobile: 390 }[frame.getAttribute("data-device")];
    if (!width || window.matchMedia("(max-width: 560px)").matches) return; // phones: the frame is the screen
    var style = getComputedStyle(stage);
    var room = stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (room > 200 && width > room) frame.style.zoom = (room / width).toFixed(3);
  }

  // ---- hover label ------------------------------------------------------------------------------------

  function showHoverLabel(node) {
    var label = $("#lf-hover-label"), stage = $("#lf-stage");
    if (!label) return;
    if (!node || node.getAttribute("data-element-id") === "root" || root.classList.contains("is-dragging")) {
      label.hidden = true; return;
    }
    var box = node.getBoundingClientRect(), frame = stage.getBoundingClientRect();
    label.textContent = state.labels[node.getAttribute("data-type")] || node.getAttribute("data-type");
    label.style.top = Math.max(0, box.top - frame.top + stage.scrollTop - 20) + "px";
    label.style.left = Math.max(0, box.left - frame.left + stage.scrollLeft) + "px";
    label.hidden = false;
  }

  // ---- events -----------------------------------------------------------------------------------------

  function isTyping(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function onKeydown(event) {
    var target = event.target, mod = event.ctrlKey || event.metaKey, key = event.key;
    if (!inBuilder(target) && target !== document.body) return;
    if (target.closest && target.closest("dialog")) return;
    if (target.classList && target.classList.contains("lf-tile") && (key === "Enter" || key === " ")) {
      event.preventDefault();
      post("add", { type: target.getAttribute("data-type"), after_id: state.selected || "" });
      state.keyboard = true;
      return;
    }
    if (mod && !event.altKey && (key === "z" || key === "Z" || key === "y") && !isTyping(target) && state.editable) {
      event.preventDefault();
      act(key === "y" || event.shiftKey ? "redo" : "undo");
      return;
    }
    var node = target.closest ? target.closest("[data-element-id]") : null;
    var onElement = node && node === target && canvasBox.contains(node) && node.getAttribute("data-element-id") !== "root";
    if (key === "Escape" && $(".lf-popover")) { $$(".lf-popover").forEach(function (p) { p.remove(); }); return; }
    if (!onElement) {
      if (key === "Escape" && state.selected && !isTyping(target) && !$("dialog[open]")) select(parentOf(state.selected));
      return;
    }
    var id = node.getAttribute("data-element-id");
    if (key === "Enter" || key === " ") { event.preventDefault(); select(id, { openPanel: true }); return; }
    if (key === "Escape") { event.preventDefault(); select(parentOf(id), { focus: true }); return; }
    if (!state.editable) return;
    var action = null;
    if (mod && (key === "d" || key === "D")) action = "duplicate";
    else if (key === "Delete" || key === "Backspace") action = "delete";
    else if (event.altKey && key === "ArrowUp") action = "up";
    else if (event.altKey && key === "ArrowDown") action = "down";
    if (!action) return;
    event.preventDefault();
    if (state.selected !== id) { state.selected = id; decorateCanvas(); loadPanel(id); }
    state.keyboard = true;
    act(action, id);
  }

  function onClick(event) {
    var target = event.target;
    var chooser = target.closest("[data-select-element]");
    if (chooser) {
      event.preventDefault();
      var popover = chooser.closest(".lf-popover");
      if (popover && narrow()) popover.remove();
      select(chooser.getAttribute("data-select-element"), { scroll: true, focus: true, openPanel: !popover });
      return;
    }
    var action = target.closest("[data-builder-action]");
    if (action && inBuilder(action)) { event.preventDefault(); act(action.getAttribute("data-builder-action")); return; }
    var device = target.closest(".lf-device");
    if (device) { setDevice(device.getAttribute("data-device")); return; }
    var toggle = target.closest("[data-drawer]");
    if (toggle) {
      var drawer = document.getElementById(toggle.getAttribute("data-drawer"));
      if (drawer && drawer.classList.contains("is-open")) closeDrawers(); else openDrawer(toggle.getAttribute("data-drawer"));
      return;
    }
    if (target.closest("[data-drawer-close]")) { closeDrawers(); return; }
    var close = target.closest("[data-popover-close]");
    if (close) { close.closest(".lf-popover").remove(); return; }
    if (!target.closest(".lf-popover, #lf-publish-button")) $$(".lf-popover").forEach(function (p) { p.remove(); });
    if (canvasBox.contains(target)) {
      event.preventDefault(); // links, buttons and forms of the page do nothing while editing
      var node = target.closest("[data-element-id]");
      select(node ? node.getAttribute("data-element-id") : null, { openPanel: true });
    }
  }

  function onInput(event) {
    var target = event.target;
    if (syncColour(event)) return;
    var form = target.form;
    if (form && form.id === "lf-panel-form") {
      state.dirty = true;
      if (target.name && target.name.indexOf("p.action") === 0) initPanel();
      setStatus("pending", "Unsaved…");
    }
    if (target.hasAttribute && target.hasAttribute("data-counter")) {
      var counter = document.getElementById(target.getAttribute("data-counter"));
      if (counter) counter.textContent = target.value.length;
    }
  }

  function isEdit(detail) {
    var path = ((detail.requestConfig && detail.requestConfig.path) || "").split("?")[0];
    return detail.requestConfig && detail.requestConfig.verb !== "get" && inBuilder(detail.elt) &&
      !/\/(settings|publish|unpublish)$/.test(path);
  }

  function onConfigRequest(event) {
    if (!inBuilder(event.detail.elt) || event.detail.verb === "get") return;
    event.detail.parameters.revision = state.revision;
  }

  function onBeforeRequest(event) {
    var detail = event.detail;
    if (!isEdit(detail)) return;
    if (detail.elt.id === "lf-panel-form") state.dirty = false;
    setStatus("saving", "Saving…");
  }

  function onResponseError(event) {
    var path = ((event.detail.requestConfig && event.detail.requestConfig.path) || "").split("?")[0];
    if (inBuilder(event.detail.elt) && !/\/(settings|publish|unpublish)$/.test(path)) {
      event.stopPropagation(); // reported below, once (not also by app.js)
    }
  }

  function onAfterRequest(event) {
    var detail = event.detail, xhr = detail.xhr;
    if (!inBuilder(detail.elt) || !xhr) return;
    applyHeaders(xhr);
    var path = ((detail.requestConfig && detail.requestConfig.path) || "").split("?")[0];
    if (/\/settings$/.test(path)) { afterSettings(xhr); return; }
    if (/\/(un)?publish$/.test(path)) return; // swapped into #lf-publish by htmx itself
    if (detail.requestConfig && detail.requestConfig.verb === "get") {
      if (path.indexOf(url("canvas")) === 0 && xhr.status === 200) applyAnswer(xhr.responseText, null);
      if (xhr.status === 200) initPanel();
      return;
    }
    var form = detail.elt.id === "lf-panel-form" ? detail.elt : null;
    if (xhr.status >= 200 && xhr.status < 300) {
      applyAnswer(xhr.responseText, xhr.getResponseHeader("X-Builder-Select"));
      if (form) showFieldErrors(form, {});
      if (state.dirty) setStatus("pending", "Unsaved…"); // typed since this edit was sent: not saved yet
      else setStatus("saved", "Saved");
      markUnpublishedChanges();
      if (state.keyboard || document.activeElement === document.body || !document.activeElement) focusSelected();
      state.keyboard = false;
      return;
    }
    state.keyboard = false;
    var error = errorOf(xhr);
    if (xhr.status === 409 && error.code === "stale") {
      $("#lf-stale").hidden = false;
      setStatus("error", "Not saved");
      return;
    }
    setStatus("error", "Not saved");
    if (form && xhr.status === 422 && error.fields && Object.keys(error.fields).length) {
      showFieldErrors(form, error.fields);
      return;
    }
    Leadforge.toast(error.message || "The change could not be saved.", "error");
    if (xhr.status !== 409) reloadCanvas(); // the server's copy is the truth
  }

  function afterSettings(xhr) {
    var name = xhr.getResponseHeader("X-Step-Name");
    if (name && $("#lf-step-name")) $("#lf-step-name").textContent = name;
    if (name) Leadforge.toast("Page settings saved.", "success");
  }

  function markUnpublishedChanges() {
    var button = $("#lf-publish-button");
    if (button && $("#lf-publish .lf-public-link")) button.innerHTML = 'Publish<span class="lf-hide-narrow"> changes</span>';
  }

  // ---- start ------------------------------------------------------------------------------------------

  function init() {
    root = document.getElementById("builder");
    if (!root || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    canvasBox = document.getElementById("lf-canvas");
    panelBox = document.getElementById("lf-panel");
    requests = document.createElement("span");
    requests.id = "lf-requests";
    requests.hidden = true;
    root.appendChild(requests);
    var labels = {};
    try { labels = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
    state = { revision: root.getAttribute("data-revision"), editable: root.getAttribute("data-editable") === "true",
              selected: null, dirty: false, keyboard: false, labels: labels,
              content: (root.getAttribute("data-content-types") || "").split(/\s+/) };
    if (!state.editable) root.classList.add("is-readonly");
    try {
      var device = localStorage.getItem("lf-builder-device");
      if (device && document.querySelector('.lf-device[data-device="' + device + '"]')) setDevice(device);
    } catch (e) { /* private mode */ }

    document.addEventListener("keydown", onKeydown);
    document.addEventListener("click", onClick);
    document.addEventListener("input", onInput);
    document.addEventListener("change", function (event) { if (event.target.form && event.target.form.id === "lf-panel-form") initPanel(); });
    document.addEventListener("submit", function (event) {
      if (canvasBox.contains(event.target) || event.target.id === "lf-panel-form") event.preventDefault();
    });
    canvasBox.addEventListener("mouseover", function (event) { showHoverLabel(event.target.closest("[data-element-id]")); });
    canvasBox.addEventListener("mouseleave", function () { showHoverLabel(null); });
    $("#lf-stage").addEventListener("scroll", function () { showHoverLabel(null); });
    root.addEventListener("htmx:configRequest", onConfigRequest);
    root.addEventListener("htmx:beforeRequest", onBeforeRequest);
    root.addEventListener("htmx:responseError", onResponseError);
    root.addEventListener("htmx:afterRequest", onAfterRequest);
    root.addEventListener("htmx:sendError", function () { setStatus("error", "Offline: not saved"); });
    window.addEventListener("beforeunload", function (event) {
      if (state.dirty) { flushPanel(); event.preventDefault(); }
    });
    window.addEventListener("resize", fitFrame);
    fitFrame();
    decorateCanvas();
    initPanel();
    if (state.editable) Leadforge.withSortable(initSortables); // loaded once, as on every page with a sortable list
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

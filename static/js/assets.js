// The asset library and the builder's image picker: drag-and-drop upload with size checks and a progress
// bar (htmx:xhr:progress), and choosing an image to fill the builder panel's inputs.
// Loaded by the library page, the picker fragment and the builder page; runs its setup once.
(function () {
  "use strict";
  if (window.leadforgeAssets) return;

  var FIELDS = ["src", "asset_id", "alt", "width", "height"];
  var picker = { trigger: null, form: null };

  function sizeLabel(bytes) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) {
        var value = bytes / units[i][1];
        return (value >= 10 || value % 1 === 0 ? Math.round(value) : value.toFixed(1)) + " " + units[i][0];
      }
    }
    return bytes + " bytes";
  }

  // ---- upload: checks before sending, progress, reset ---------------------------------------------

  function uploadForm(el) {
    return el && el.closest ? el.closest("[data-asset-upload]") : null;
  }

  function showClientErrors(form, messages) {
    var box = form.querySelector("[data-client-errors]");
    if (!box) return;
    box.textContent = "";
    messages.forEach(function (message) {
      var p = document.createElement("p");
      p.textContent = message;
      box.appendChild(p);
    });
    box.hidden = messages.length === 0;
  }

  // The same limits as the server, so a 50 MB photo is refused at once instead of after a long upload.
  function problems(form) {
    var input = form.querySelector("input[type=file]");
    var files = input ? Array.prototype.slice.call(input.files || []) : [];
    var maxBytes = Number(form.dataset.maxBytes), maxTotal = Number(form.dataset.maxTotal);
    var maxFiles = Number(form.dataset.maxFiles);
    if (!files.length) return ["Choose one or more images to upload."];
    var found = [];
    if (maxFiles && files.length > maxFiles) {
      found.push("That is " + files.length + " files: upload at most " + maxFiles + " at a time.");
    }
    var total = 0;
    files.forEach(function (file) {
      total += file.size;
      if (maxBytes && file.size > maxBytes) {
        found.push(file.name + ": the file is " + sizeLabel(file.size) + ", larger than " +
          form.dataset.maxLabel + ", the limit for an image. Make it smaller and upload it again.");
      } else if (file.size === 0) {
        found.push(file.name + ": the file is empty.");
      } else if (/\.svgz?$/i.test(file.name) || file.type === "image/svg+xml") {
        found.push(file.name + ": SVG images are not accepted because they can contain scripts. Export it as PNG or WebP.");
      }
    });
    if (!found.length && maxTotal && total > maxTotal) {
      found.push("These files add up to " + sizeLabel(total) + "; one upload takes at most " +
        form.dataset.maxTotalLabel + ". Upload them a few at a time.");
    }
    return found;
  }

  function setProgress(form, percent, message) {
    var status = form.querySelector("[data-upload-status]");
    if (!status) return;
    status.hidden = false;
    var bar = status.querySelector("progress");
    if (bar) bar.value = percent;
    var text = status.querySelector("[data-upload-message]");
    if (text && message) text.textContent = message;
  }

  function setBusy(form, busy) {
    form.classList.toggle("is-uploading", busy);
    var button = form.querySelector("[data-upload-button]");
    if (button) button.disabled = busy;
    if (!busy) {
      var status = form.querySelector("[data-upload-status]");
      if (status) status.hidden = true;
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event.detail.elt);
    if (!form || event.detail.elt !== form) return;
    var found = problems(form);
    showClientErrors(form, found);
    if (found.length) {
      event.preventDefault();
      return;
    }
    form.dataset.progress = "0";
    setBusy(form, true);
    setProgress(form, 0, "Uploading…");
  });

  // htmx reports upload and download progress under one name: keep the bar moving forward only.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm(event.target);
    if (!form || !event.detail.lengthComputable || !event.detail.total) return;
    var percent = Math.min(100, Math.round(event.detail.loaded * 100 / event.detail.total));
    if (percent < Number(form.dataset.progress || 0)) return;
    form.dataset.progress = String(percent);
    setProgress(form, percent, percent < 100
      ? "Uploading… " + percent + "% (" + sizeLabel(event.detail.loaded) + " of " + sizeLabel(event.detail.total) + ")"
      : "Checking the images…");
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = uploadForm(event.detail.elt);
    if (!form || event.detail.elt !== form) return;
    setBusy(form, false);
    if (event.detail.successful) form.reset();
  });

  // Choosing files or dropping them starts the upload (the Upload button stays for keyboards and no-JS).
  document.addEventListener("change", function (event) {
    var form = uploadForm(event.target);
    if (form && event.target.type === "file" && event.target.files.length && window.htmx) {
      form.requestSubmit();
    }
  });

  function dropZone(event) {
    var zone = event.target.closest ? event.target.closest("[data-drop-zone]") : null;
    return zone && uploadForm(zone) ? zone : null;
  }

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = dropZone(event);
      if (!zone) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("is-dragover");
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = dropZone(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-dragover");
  });
  document.addEventListener("drop", function (event) {
    var zone = dropZone(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("is-dragover");
    var input = zone.querySelector("input[type=file]");
    if (!input || !event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // ---- the picker --------------------------------------------------------------------------------

  function pickerDialog() {
    var dialog = document.getElementById("asset-picker-dialog");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "asset-picker-dialog";
    dialog.className = "modal asset-picker-dialog";
    dialog.setAttribute("aria-labelledby", "asset-picker-title");
    var body = document.createElement("div");
    body.id = "asset-picker-dialog-body";
    dialog.appendChild(body);
    document.body.appendChild(dialog);
    dialog.addEventListener("close", function () {
      if (picker.trigger && document.body.contains(picker.trigger)) picker.trigger.focus();
    });
    return dialog;
  }

  // A trigger anywhere in a panel: <button type="button" data-asset-picker="/assets/picker?field=p.">
  function openPicker(trigger) {
    picker.trigger = trigger;
    picker.form = trigger.closest("form");
    var dialog = pickerDialog();
    var body = dialog.querySelector("#asset-picker-dialog-body");
    body.innerHTML = '<p class="asset-picker-loading muted"><span class="spinner"></span> Loading images…</p>';
    if (!dialog.open) dialog.showModal();
    htmx.ajax("GET", trigger.getAttribute("data-asset-picker"), { target: body, swap: "innerHTML" });
  }

  function findInput(name, choice) {
    var input = null;
    if (picker.form && document.body.contains(picker.form)) {
      var named = picker.form.elements.namedItem(name);
      input = named && named.length !== undefined && !named.tagName ? named[0] : named;
    }
    if (!input) {
      var all = document.querySelectorAll('[name="' + (window.CSS && CSS.escape ? CSS.escape(name) : name) + '"]');
      for (var i = 0; i < all.length; i++) {
        if (!all[i].closest("[data-asset-picker-root]") && all[i] !== choice) { input = all[i]; break; }
      }
    }
    return input;
  }

  function choose(choice) {
    var prefix = choice.getAttribute("data-field") || "";
    var values = {
      src: choice.dataset.src, asset_id: choice.dataset.assetId, alt: choice.dataset.alt || "",
      width: choice.dataset.width, height: choice.dataset.height,
    };
    var filled = [];
    FIELDS.forEach(function (key) {
      var input = findInput(prefix + key, choice);
      if (!input) return;
      input.value = values[key];
      filled.push(input);
    });
    // After every value is in place, so a live update posts the whole choice at once.
    filled.forEach(function (input) {
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    if (!filled.length) Leadforge.toast("No image field to fill here: open the picker from an image's panel.", "error");
    var dialog = choice.closest("dialog");
    if (dialog) dialog.close();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var opener = target.closest("[data-asset-picker]");
    if (opener && window.htmx) {
      event.preventDefault();
      openPicker(opener);
      return;
    }
    var choice = target.closest("[data-asset-choice]");
    if (choice) {
      event.preventDefault();
      choose(choice);
      return;
    }
    var close = target.closest("[data-picker-close]");
    if (close && close.closest("dialog")) close.closest("dialog").close();
  });

  window.leadforgeAssets = true; // loaded: the picker fragment loads this file again
})();

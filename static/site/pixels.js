/* Leadforge tracking pixels: each provider's base code, run from this file because the published pages' CSP
   refuses inline scripts. The ids come from this script's data attributes; what it fires and when is told in
   app/integrations/pixels.py. No dependencies; it never throws into the page. */
(function (w, d) {
  "use strict";
  var tag = d.currentScript || d.querySelector("script[data-lf-pixels]");
  if (!tag || w.lfPixels) return;
  w.lfPixels = true;
  var a = tag.dataset, NOTES = "lf_px", ORDERS = "lf_px_orders", MAX_AGE = 30 * 60 * 1000;

  function load(src) {
    var script = d.createElement("script");
    script.async = true;
    script.src = src;
    (d.head || d.documentElement).appendChild(script);
  }

  function safely(f) { try { f(); } catch (e) { /* a provider's failure is not the page's */ } }

  // ---- the providers' base code ----
  safely(function () {
    if (!a.facebook || w.fbq) return;  // Meta Pixel: fbevents.js
    var fbq = w.fbq = function () {
      if (fbq.callMethod) fbq.callMethod.apply(fbq, arguments); else fbq.queue.push(arguments);
    };
    if (!w._fbq) w._fbq = fbq;
    fbq.push = fbq; fbq.loaded = true; fbq.version = "2.0"; fbq.queue = [];
    load("https://connect.facebook.net/en_US/fbevents.js");
    fbq("init", a.facebook);
    fbq("track", "PageView");
  });
  safely(function () {
    if (!a.ga4) return;  // Google Analytics 4: gtag.js (the config call sends the page view)
    w.dataLayer = w.dataLayer || [];
    w.gtag = w.gtag || function () { w.dataLayer.push(arguments); };
    w.gtag("js", new Date());
    w.gtag("config", a.ga4);
    load("https://www.googletagmanager.com/gtag/js?id=" + encodeURIComponent(a.ga4));
  });
  safely(function () {
    if (!a.tiktok || w.ttq) return;  // TikTok Pixel: the loader of events.js
    w.TiktokAnalyticsObject = "ttq";
    var ttq = w.ttq = [];
    ttq.methods = ["page", "track", "identify", "instances", "debug", "on", "off", "once", "ready", "alias",
      "group", "enableCookie", "disableCookie", "holdConsent", "revokeConsent", "grantConsent"];
    ttq.setAndDefer = function (target, name) {
      target[name] = function () { target.push([name].concat(Array.prototype.slice.call(arguments, 0))); };
    };
    for (var i = 0; i < ttq.methods.length; i++) ttq.setAndDefer(ttq, ttq.methods[i]);
    ttq.instance = function (id) {
      var instance = ttq._i[id] || [];
      for (var n = 0; n < ttq.methods.length; n++) ttq.setAndDefer(instance, ttq.methods[n]);
      return instance;
    };
    ttq.load = function (id, options) {
      var src = "https://analytics.tiktok.com/i18n/pixel/events.js";
      ttq._i = ttq._i || {}; ttq._i[id] = []; ttq._i[id]._u = src;
      ttq._t = ttq._t || {}; ttq._t[id] = +new Date();
      ttq._o = ttq._o || {}; ttq._o[id] = options || {};
      load(src + "?sdkid=" + encodeURIComponent(id) + "&lib=ttq");
    };
    ttq.load(a.tiktok);
    ttq.page();
  });
  safely(function () {
    if (!a.pinterest || w.pintrk) return;  // Pinterest Tag: core.js
    var pintrk = w.pintrk = function () { pintrk.queue.push(Array.prototype.slice.call(arguments)); };
    pintrk.queue = []; pintrk.version = "3.0";
    load("https://s.pinimg.com/ct/core.js");
    pintrk("load", a.pinterest);
    pintrk("page");
  });
  safely(function () {
    if (!a.x || w.twq) return;  // X Pixel: uwt.js (the config call sends the page view)
    var twq = w.twq = function () {
      if (twq.exe) twq.exe.apply(twq, arguments); else twq.queue.push(arguments);
    };
    twq.version = "1.1"; twq.queue = [];
    load("https://static.ads-twitter.com/uwt.js");
    twq("config", a.x);
  });

  // ---- conversions ----
  function lead() {
    if (a.facebook) safely(function () { w.fbq("track", "Lead"); });
    if (a.ga4) safely(function () { w.gtag("event", "generate_lead"); });
    if (a.tiktok) safely(function () { w.ttq.track("Lead"); });
    if (a.pinterest) safely(function () { w.pintrk("track", "lead"); });
  }

  function purchase(note) {
    var value = Math.round(note.v) / 100, currency = note.c || undefined, id = "order." + note.o;
    if (a.facebook) safely(function () { w.fbq("track", "Purchase", { value: value, currency: currency }, { eventID: id }); });
    if (a.ga4) safely(function () { w.gtag("event", "purchase", { transaction_id: note.o, value: value, currency: currency }); });
    if (a.tiktok) safely(function () { w.ttq.track("Purchase", { value: value, currency: currency, content_type: "product" }, { event_id: id }); });
    if (a.pinterest) safely(function () {
      w.pintrk("track", "checkout", { value: value, currency: currency, order_id: note.o, order_quantity: 1, event_id: id });
    });
  }

  function read(key) {
    try { var value = JSON.parse(w.sessionStorage.getItem(key) || "[]"); return Array.isArray(value) ? value : []; }
    catch (e) { return null; }
  }
  function write(key, value) {
    try { w.sessionStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  }

  function fire(note) {
    if (note.k === "lead") { lead(); return; }
    var done = read(ORDERS) || [];
    if (!note.o || done.indexOf(note.o) !== -1) return;  // once per order
    write(ORDERS, done.concat([note.o]).slice(-20));
    purchase(note);
  }

  // A conversion followed by a navigation: noted now, fired on the next page of this funnel.
  function later(note) {
    note.f = a.funnel; note.p = w.location.pathname; note.t = Date.now();
    var notes = read(NOTES);
    if (notes === null || !write(NOTES, notes.concat([note]))) fire(note);  // no storage: now, as best we can
  }

  safely(function () {
    var notes = read(NOTES) || [], now = Date.now(), kept = [];
    notes.forEach(function (note) {
      if (!note || now - note.t > MAX_AGE) return;
      if (note.f !== a.funnel) { kept.push(note); return; }
      // A lead fires away from the form's page: back on it, the form was not sent (or is sent again).
      if (note.k === "lead" && note.p === w.location.pathname) return;
      fire(note);
    });
    if (notes.length) write(NOTES, kept);
  });

  w.addEventListener("submit", function (event) {
    safely(function () {
      var form = event.target;
      if (event.defaultPrevented || !form.matches || !form.matches(".lf-form") || form.matches("[data-checkout]")) return;
      if (form.lfPixelNoted) return;
      form.lfPixelNoted = true;
      later({ k: "lead" });
    });
  });
  d.addEventListener("lf:purchase", function (event) {
    safely(function () {
      var detail = event.detail || {};
      if (!detail.order_id) return;
      later({ k: "purchase", o: String(detail.order_id), v: Number(detail.value_cents) || 0,
              c: String(detail.currency || a.currency || "").toUpperCase() });
    });
  });
})(window, document);

/* Leadforge checkout on published pages: what the order form sells and its summary (HTML fragments of the
   server), the payment, and the one-click offers. No dependencies of its own; Stripe.js is loaded from the
   URL the server gives (Stripe's, or localstripe's in development), only when a payment needs it. The server
   computes every amount.
   Why not htmx for the fragments: localstripe's fake Stripe.js declares a global `class Element`, which
   shadows the DOM's Element for every script of the page, and htmx's `instanceof Element` checks then fail. */
(function () {
  "use strict";

  var stripeLoading = null;

  function loadStripe(src, key) {
    if (!stripeLoading) {
      stripeLoading = new Promise(function (resolve, reject) {
        if (window.Stripe) { resolve(window.Stripe(key)); return; }
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.Stripe(key)); };
        script.onerror = function () { reject(new Error("The payment service could not be loaded. Check your connection and reload the page.")); };
        document.head.appendChild(script);
      });
    }
    return stripeLoading;
  }

  function post(url, data) {
    var body = data instanceof FormData ? data : new URLSearchParams(data);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return { status: "failed", message: "Something went wrong. Please try again." }; });
      }, function () { return { status: "failed", message: "No connection. Check your network and try again." }; });
  }

  // ---- the order form -----------------------------------------------------------------------------------

  function showErrors(form, message, errors) {
    var box = form.querySelector("[data-checkout-errors]");
    var fields = form.querySelectorAll(".lf-field--error");
    for (var i = 0; i < fields.length; i++) fields[i].classList.remove("lf-field--error");
    var old = form.querySelectorAll(".lf-field__error[data-js]");
    for (var j = 0; j < old.length; j++) old[j].remove();
    if (!message) { box.hidden = true; box.textContent = ""; return; }
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    box.appendChild(p);
    Object.keys(errors || {}).forEach(function (id) {
      var input = document.getElementById("f-" + id) || form.querySelector("[name='" + id + "']");
      var wrap = input && input.closest(".lf-field, .lf-coupon");
      if (!wrap || !errors[id]) return;
      wrap.classList.add("lf-field--error");
      var note = document.createElement("p");
      note.className = "lf-field__error";
      note.setAttribute("data-js", "1");
      note.textContent = errors[id];
      wrap.appendChild(note);
    });
    box.hidden = false;
    box.setAttribute("tabindex", "-1");
    box.focus();
  }

  function busy(form, on) {
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = on;
      if (on) buttons[i].setAttribute("aria-busy", "true"); else buttons[i].removeAttribute("aria-busy");
    }
  }

  function setupCard(form) {
    var config = form.querySelector("[data-stripe-key]");
    var mount = form.querySelector("[data-card]");
    if (!config || !mount || mount.getAttribute("data-mounted")) return;
    mount.setAttribute("data-mounted", "1");
    loadStripe(config.getAttribute("data-stripe-js"), config.getAttribute("data-stripe-key")).then(function (stripe) {
      form._stripe = stripe;
      form._card = stripe.elements().create("card");
      form._card.mount(mount);
    }, function (error) { showErrors(form, error.message); });
  }

  function finish(form, base, answer) {
    if (answer.purchase) {  // the tracker (track.js) reports it; the server does too, counted once per order
      var detail = { order_id: answer.purchase.order_id, value_cents: answer.purchase.value_cents, next_url: answer.next_url };
      try { document.dispatchEvent(new CustomEvent("lf:purchase", { detail: detail })); } catch (e) { /* no tracker */ }
    }
    if (answer.status === "succeeded" || answer.status === "processing") { window.location.assign(answer.next_url); return; }
    if (answer.status === "requires_action") {
      return form._stripe.confirmCardPayment(answer.client_secret, answer.payment_method ? { payment_method: answer.payment_method } : undefined)
        .then(function (result) {
          var intent = (result && result.paymentIntent) || {};
          var id = intent.id || (answer.client_secret || "").split("_secret_")[0];
          return post(base + "/confirm", { payment_intent: id });
        })
        .then(function (next) { return finish(form, base, next); });
    }
    busy(form, false);
    showErrors(form, answer.message || "Your payment did not go through.", answer.errors);
  }

  function submitOrder(form, event) {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    if (!form._stripe || !form._card) { showErrors(form, "The card field is still loading. Wait a moment and try again."); return; }
    var base = form.getAttribute("data-checkout");
    busy(form, true);
    showErrors(form, "");
    post(base + "/start", new FormData(form)).then(function (answer) {
      if (answer.status !== "card") { busy(form, false); showErrors(form, answer.message, answer.errors); return; }
      var email = form.querySelector("input[type=email]");
      return form._stripe.confirmCardSetup(answer.client_secret, { payment_method: { card: form._card, billing_details: { email: email ? email.value : undefined } } })
        .then(function (result) {
          if (result.error) {
            busy(form, false);
            showErrors(form, result.error.message || "Your card was declined.");
            return;
          }
          var setupId = (result.setupIntent && result.setupIntent.id) || answer.client_secret.split("_secret_")[0];
          return post(base + "/pay", { setup_intent: setupId }).then(function (paid) { return finish(form, base, paid); });
        });
    }).catch(function (error) { busy(form, false); showErrors(form, (error && error.message) || "Something went wrong. Please try again."); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-checkout]")) submitOrder(form, event);
    else if (form.matches && form.matches("form[data-offer-accept]")) acceptOffer(form, event);
  }, true);  // before site.js' guard, which would lock the form

  // ---- what is sold, and the summary (fragments of the server) ------------------------------------------

  function loadOffer(form) {
    var slot = form.querySelector("[data-offer-url]");
    if (!slot) return;
    fetch(slot.getAttribute("data-offer-url"), { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(); return response.text(); })
      .then(function (html) { slot.innerHTML = html; setupCard(form); })
      .catch(function () { slot.innerHTML = ""; showErrors(form, "Your order could not be loaded. Reload the page."); });
  }

  function refreshSummary(form) {
    var box = form.querySelector("[data-summary-url]");
    var summary = form.querySelector("[data-summary]");
    if (!box || !summary) return;
    var data = new FormData(form);
    summary.setAttribute("aria-busy", "true");
    fetch(box.getAttribute("data-summary-url"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(); return response.text(); })
      .then(function (html) { summary.innerHTML = html; })
      .catch(function () { showErrors(form, "The summary could not be updated. Check your connection."); })
      .then(function () { summary.removeAttribute("aria-busy"); });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-checkout]");
    if (form && event.target.matches(".lf-bump__input")) refreshSummary(form);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-coupon-apply]");
    if (button) refreshSummary(button.closest("form[data-checkout]"));
  });
  document.addEventListener("keydown", function (event) {  // Enter in the coupon field applies it
    if (event.key !== "Enter" || !event.target.matches || !event.target.matches("input[name=coupon]")) return;
    event.preventDefault();
    refreshSummary(event.target.closest("form[data-checkout]"));
  });

  var forms = document.querySelectorAll("form[data-checkout]");
  for (var i = 0; i < forms.length; i++) loadOffer(forms[i]);

  // ---- one-click offers ----------------------------------------------------------------------------------

  function offerError(box, message) {
    var note = box.querySelector("[data-offer-error]");
    note.textContent = message;
    note.hidden = !message;
  }

  function acceptOffer(form, event) {
    event.preventDefault();
    var box = form.closest("[data-offer]");
    var base = box.getAttribute("data-offer");
    var button = form.querySelector("button");
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    offerError(box, "");
    function done(answer) {
      if (answer.status === "succeeded" || answer.status === "processing") { window.location.assign(answer.next_url); return; }
      if (answer.status === "requires_action") {
        return loadStripe(answer.stripe_js, answer.stripe_key).then(function (stripe) {
          return stripe.confirmCardPayment(answer.client_secret, answer.payment_method ? { payment_method: answer.payment_method } : undefined);
        }).then(function (result) {
          var intent = (result && result.paymentIntent) || {};
          return post(base + "/confirm", { payment_intent: intent.id || answer.client_secret.split("_secret_")[0] });
        }).then(done);
      }
      button.disabled = false;
      button.removeAttribute("aria-busy");
      offerError(box, answer.message || "The payment did not go through. Your first order is safe.");
    }
    post(base + "/accept", {}).then(done).catch(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      offerError(box, "Something went wrong. Your first order is safe; please try again.");
    });
  }
})();

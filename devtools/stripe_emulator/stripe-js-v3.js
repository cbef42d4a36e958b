/* A Stripe.js stand-in served by the Stripe emulator (devtools/stripe_emulator/stripe_js.py).
 * Implements the part of https://js.stripe.com/v3/ the order page uses: Stripe(pk),
 * stripe.elements({clientSecret}), elements.create("payment").mount(selector) (a card form:
 * number, expiry, CVC) and stripe.confirmPayment({elements, confirmParams: {return_url},
 * redirect}), resolving {paymentIntent} or {error: {type, code, message}} like Stripe.
 * Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined. */
(function () {
  "use strict";

  var script = document.currentScript;
  var API = script ? new URL(script.src).origin : window.location.origin;
  var seq = 0;

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) {
      return new Stripe(publishableKey);
    }
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw new Error("Stripe(): a publishable key (pk_...) is required.");
    }
    this._key = publishableKey;
  }

  function Elements(stripe, options) {
    if (!options || typeof options.clientSecret !== "string") {
      throw new Error("stripe.elements(): clientSecret is required for the Payment Element.");
    }
    this._stripe = stripe;
    this._clientSecret = options.clientSecret;
    this._payment = null;
  }

  function field(id, labelText, attrs) {
    var wrapper = document.createElement("p");
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = labelText;
    var input = document.createElement("input");
    input.id = id;
    Object.keys(attrs).forEach(function (name) {
      input.setAttribute(name, attrs[name]);
    });
    wrapper.appendChild(label);
    wrapper.appendChild(input);
    return { wrapper: wrapper, input: input };
  }

  function PaymentElement(elements) {
    this._elements = elements;
    this._inputs = null;
  }

  PaymentElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) {
      throw new Error("PaymentElement.mount(): no element matches " + target);
    }
    seq += 1;
    var prefix = "stripe-payment-" + seq + "-";
    var box = document.createElement("fieldset");
    box.className = "stripe-payment-element";
    var legend = document.createElement("legend");
    legend.textContent = "Card";
    box.appendChild(legend);
    var number = field(prefix + "number", "Card number", {
      inputmode: "numeric", autocomplete: "cc-number", placeholder: "1234 1234 1234 1234",
      maxlength: "23", required: "required", name: "cardnumber"
    });
    var expiry = field(prefix + "expiry", "Expiry (MM / YY)", {
      inputmode: "numeric", autocomplete: "cc-exp", placeholder: "MM / YY",
      maxlength: "7", required: "required", name: "exp-date"
    });
    var cvc = field(prefix + "cvc", "CVC", {
      inputmode: "numeric", autocomplete: "cc-csc", placeholder: "123",
      maxlength: "4", required: "required", name: "cvc"
    });
    [number, expiry, cvc].forEach(function (f) { box.appendChild(f.wrapper); });
    host.appendChild(box);
    this._inputs = { number: number.input, expiry: expiry.input, cvc: cvc.input };
    this._elements._payment = this;
    return this;
  };

  PaymentElement.prototype._card = function () {
    var expiry = this._inputs.expiry.value.replace(/\s/g, "").split("/");
    return {
      number: this._inputs.number.value.replace(/\s/g, ""),
      exp_month: expiry[0] || "",
      exp_year: expiry[1] || "",
      cvc: this._inputs.cvc.value.trim()
    };
  };

  Elements.prototype.create = function (type) {
    if (type !== "payment") {
      throw new Error("This Stripe.js stand-in implements only the Payment Element.");
    }
    return new PaymentElement(this);
  };

  Stripe.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  function encode(params) {
    return Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }

  Stripe.prototype.confirmPayment = function (options) {
    var elements = options && options.elements;
    var returnUrl = options && options.confirmParams && options.confirmParams.return_url;
    var redirect = (options && options.redirect) || "always";
    if (!elements || !elements._payment || !elements._payment._inputs) {
      return Promise.resolve({ error: { type: "validation_error", message: "Mount the Payment Element first." } });
    }
    if (redirect === "always" && !returnUrl) {
      return Promise.resolve({ error: { type: "validation_error", message: "confirmParams.return_url is required." } });
    }
    var secret = elements._clientSecret;
    var intentId = secret.split("_secret_")[0];
    var card = elements._payment._card();
    var body = encode({
      key: this._key,
      client_secret: secret,
      "card[number]": card.number,
      "card[exp_month]": card.exp_month,
      "card[exp_year]": card.exp_year,
      "card[cvc]": card.cvc
    });
    return fetch(API + "/_emulator/stripe_js/payment_intents/" + encodeURIComponent(intentId) + "/confirm", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      if (answer.error) {
        return { error: answer.error };
      }
      if (redirect === "always" || answer.status === "requires_action") {
        var url = new URL(returnUrl, window.location.href);
        url.searchParams.set("payment_intent", answer.id);
        url.searchParams.set("payment_intent_client_secret", secret);
        url.searchParams.set("redirect_status", answer.status === "succeeded" ? "succeeded" : "failed");
        window.location.assign(url.toString());
        return new Promise(function () {});
      }
      return { paymentIntent: answer };
    }, function () {
      return { error: { type: "api_connection_error", message: "Could not reach Stripe. Check your connection and try again." } };
    });
  };

  window.Stripe = Stripe;
})();

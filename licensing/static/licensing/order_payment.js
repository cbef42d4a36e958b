/* The order page: Stripe.js's Payment Element and confirmPayment against the order's
 * PaymentIntent. The page never marks the order paid: the status panel (htmx) follows the
 * order as Stripe's webhook settles it; here we only show Stripe's answer and allow a retry. */
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("payment-form");
    if (!form || typeof window.Stripe !== "function") {
      return;
    }
    var button = document.getElementById("pay-button");
    var message = document.getElementById("payment-message");
    var label = button.textContent;
    var stripe = window.Stripe(form.dataset.publishableKey);
    var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
    elements.create("payment").mount("#payment-element");
    button.disabled = false;
    var busy = false;

    function refreshStatus() {
      var panel = document.getElementById("order-status");
      if (panel && window.htmx && panel.getAttribute("hx-get")) {
        window.htmx.ajax("GET", panel.getAttribute("hx-get"), { target: panel, swap: "outerHTML" });
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) {
        return;  // a double click confirms once
      }
      busy = true;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      message.textContent = "";
      stripe.confirmPayment({
        elements: elements,
        confirmParams: { return_url: form.dataset.returnUrl },
        redirect: "if_required"
      }).then(function (result) {
        busy = false;
        button.removeAttribute("aria-busy");
        if (result.error) {
          message.textContent = result.error.message || "The payment failed.";
          button.disabled = false;
          button.textContent = "Try again: " + label;
          refreshStatus();
          return;
        }
        message.textContent = "Payment submitted. Waiting for Stripe to confirm it…";
        form.hidden = true;
        refreshStatus();
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// The invitation link carries its one-time token in the URL fragment (never sent to a server,
// never in a Referer). Move it into the claim form and drop it from the address bar.
(function () {
  "use strict";
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || "");
  if (!match) {
    return;
  }
  var field = document.getElementById("id_token");
  if (field) {
    field.value = decodeURIComponent(match[1]);
  }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
})();

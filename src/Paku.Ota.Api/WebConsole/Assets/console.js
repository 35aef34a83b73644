// Paku OTA console: keeps the live parts of an open page current. Every element marked data-live is
// re-read from the same URL every few seconds (the server renders it, so there is no second template
// here) and replaced when it changed. Polling pauses while the tab is hidden.
(function () {
  "use strict";
  var interval = parseInt(document.body.getAttribute("data-poll-ms"), 10) || 5000;
  var busy = false;

  function refresh() {
    if (busy || document.hidden || !document.querySelector("[data-live]")) return;
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Console-Poll": "1" } })
      .then(function (response) {
        if (response.redirected || !response.ok) return null; // signed out or gone: leave the page as it is
        return response.text();
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (old) {
          var next = fresh.querySelector('[data-live="' + old.getAttribute("data-live") + '"]');
          if (next && next.innerHTML !== old.innerHTML && !old.contains(document.activeElement)) {
            old.replaceWith(document.importNode(next, true));
          }
        });
        document.body.setAttribute("data-refreshed", new Date().toISOString());
      })
      .catch(function () { /* a missed poll is retried at the next tick */ })
      .then(function () { busy = false; });
  }

  setInterval(refresh, interval);
  document.addEventListener("visibilitychange", refresh);

  document.querySelectorAll("[data-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (history.length > 1) { event.preventDefault(); history.back(); }
    });
  });
})();

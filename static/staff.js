// Keeps the schedule current: every minute the page is fetched again and only the grid is
// swapped, so the scroll position and anything typed elsewhere stay. Without scripts the
// page works the same, and a reload brings it up to date.
(function () {
  "use strict";
  var EVERY = 60 * 1000;
  function refresh() {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Refresh": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["#schedule", ".next-up", ".cancelled-list"].forEach(function (selector) {
          var now = document.querySelector(selector), next = fresh.querySelector(selector);
          if (now && next) {
            var left = now.scrollLeft, top = now.scrollTop;
            now.replaceWith(next);
            next.scrollLeft = left;
            next.scrollTop = top;
          }
        });
      })
      .catch(function () { /* offline for a moment: the next minute tries again */ });
  }
  window.setInterval(refresh, EVERY);
}());

// Status line of a budget's runs: while a run waits or runs, ask the server
// every few seconds how far it is and update the text (a polite live region,
// so screen readers announce the change). When it is done, offer a link to
// reload the page — the page is never reloaded by itself. Without JavaScript
// the status line and its "Stand aktualisieren" link (a fresh query string
// each time, so it really reloads) work as they are.
(function () {
  "use strict";
  var box = document.querySelector(".run-status[data-status-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var text = box.querySelector(".run-status__text");
  var link = box.querySelector(".run-status__link a");
  var watching = box.getAttribute("data-active");
  var INTERVAL_MS = 3000;
  var MAX_POLLS = 400; // about 20 minutes, then the link is left to the user

  function poll(count) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.active) {
          box.hidden = false;
          if (text.textContent !== data.active.text) {
            text.textContent = data.active.text;
          }
          watching = String(data.active.id);
          if (count < MAX_POLLS) {
            window.setTimeout(function () { poll(count + 1); }, INTERVAL_MS);
          }
        } else if (watching && data.finished) {
          box.hidden = false;
          text.textContent = data.finished.text;
          link.textContent = box.getAttribute("data-reload-text");
          // a new query string, so following the link really loads the page again
          link.href = window.location.pathname + "?stand=" + Date.now() + "#runs-heading";
          watching = "";
        }
      })
      .catch(function () {
        // the link stays; nothing else to do
      });
  }

  if (watching) {
    window.setTimeout(function () { poll(0); }, INTERVAL_MS);
  }
})();

// The checks page of a platform's proctored assessment: the start button waits until the supervision window is
// live and recording (the server refuses an earlier start anyway; without scripts the button stays as it is).
(function () {
  "use strict";
  var said = document.getElementById("lti-live");
  var button = document.getElementById("lti-start-button");
  if (!said || !button) { return; }

  function show(live) {
    said.dataset.live = live ? "yes" : "no";
    said.textContent = live ? said.dataset.msgLive : said.dataset.msgWaiting;
    button.disabled = !live;
  }

  function poll() {
    fetch(said.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) { if (b) { show(b.live === true); } }, function () { /* offline: ask again */ })
      .then(function () { setTimeout(poll, 2000); });
  }
  show(said.dataset.live === "yes");
  poll();
}());

// The room scan on the proctor's live view of one attempt (issue 29): "Raumscan läuft" in words while the candidate
// shows the room (the live video above shows it), and the button that asks the candidate for a scan now.
(function () {
  "use strict";
  var section = document.getElementById("room-scan-proctor");
  if (!section) { return; }
  var label = document.getElementById("room-scan-label");
  var sent = document.getElementById("room-scan-request-state");
  function show(s) {
    label.dataset.state = s.proctor_state || "";
    label.textContent = s.label || label.dataset.none;
  }
  function refresh() {
    fetch(section.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(show).catch(function () {});
  }
  document.getElementById("room-scan-request").addEventListener("click", function () {
    window.aufsicht.postJson(section.dataset.api, {}).then(function (r) {
      if (r.ok) { show(r.body); sent.textContent = sent.dataset.sent; return; }
      sent.textContent = window.aufsicht.message(r);
    });
  });
  refresh();
  setInterval(refresh, 2000);
})();

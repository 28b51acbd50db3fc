// The candidate's side of the phone as the second camera: a QR code of a single-use pairing link (made on the
// server), a new one when it was used or has expired, and whether the phone's camera arrives.
(function () {
  "use strict";
  var root = document.getElementById("phone-pairing");
  if (!root) { return; }
  var img = document.getElementById("phone-qr"), link = document.getElementById("phone-link");
  var stateEl = document.getElementById("phone-state");
  var expires = 0, used = null;

  function fresh() {
    return window.aufsicht.postJson(root.dataset.pairingUrl, {}).then(function (r) {
      if (!r.ok) { stateEl.textContent = window.aufsicht.message(r, root.dataset.msgFailed); return; }
      img.src = r.body.qr; img.hidden = false;
      link.href = r.body.link; link.hidden = false;
      root.dataset.link = r.body.link;
      expires = Date.now() + (r.body.expires_in - 30) * 1000;
    });
  }

  function check() {
    fetch(root.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(window.aufsicht.answer)
      .then(function (r) {
        if (!r.ok) { return; }
        var s = r.body.streaming ? "streaming" : r.body.paired ? "paired" : "waiting";
        stateEl.dataset.state = s;
        stateEl.textContent = root.dataset["msg" + s.charAt(0).toUpperCase() + s.slice(1)];
        // A code works once: after a phone paired with it, the next scan needs a new one.
        if ((used !== null && r.body.used !== used) || Date.now() > expires) { fresh(); }
        used = r.body.used;
      }, function () { /* offline: ask again */ });
  }

  fresh().then(check);
  setInterval(check, 3000);
})();

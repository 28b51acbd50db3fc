// The supervision window of a platform's assessment: notices from the supervision (pause, warnings, a call, the
// end), and closing the window told to the server (a flag that reaches the platform). media.js holds the camera.
(function () {
  "use strict";
  var box = document.getElementById("notices");
  if (!box) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var last = 0, leaving = false;

  function say(kind, text) {
    var p = document.createElement("p");
    p.className = "warning";
    p.dataset.kind = kind;
    p.textContent = text;
    box.appendChild(p);
  }

  function poll() {
    fetch(box.dataset.api + "?after=" + last, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (b) {
        if (b.status && b.status !== "in_progress") { leaving = true; window.location.reload(); return; }
        (b.notices || []).forEach(function (n) {
          last = Math.max(last, n.id);
          if (n.kind === "warning") { say(n.kind, box.dataset.warning + ": " + n.detail.message); }
          if (n.kind === "chat_from_proctor") { say(n.kind, box.dataset.chat); }
          if (n.kind === "paused") { say(n.kind, box.dataset.paused); }
          if (n.kind === "resumed") { say(n.kind, box.dataset.resumed); }
          if (n.kind === "call_started" || n.kind === "call_ended") {
            document.getElementById("examiner").hidden = n.kind !== "call_started";
            document.dispatchEvent(new CustomEvent("aufsicht:notice", {detail: n}));  // media.js: the caller (Janus)
          }
        });
      })
      .catch(function () { /* offline or restarting: ask again */ });
  }
  setInterval(poll, 3000);
  poll();

  // Closing the window (or leaving it for another page) while the supervision runs: the server raises a flag.
  window.addEventListener("pagehide", function () {
    if (leaving) { return; }
    fetch(box.dataset.closed, {method: "POST", keepalive: true, credentials: "same-origin",
                               headers: {"Accept": "application/json", "X-CSRFToken": meta ? meta.content : ""}});
  });
}());

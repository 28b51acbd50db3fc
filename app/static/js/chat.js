// Chat between candidate and proctor: polls for new messages, sends with the CSRF header.
// Message text is inserted with textContent only.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  if (!box) { return; }
  var log = document.getElementById("chat-log");
  var last = 0;
  function add(m) {
    last = Math.max(last, m.id);
    var li = document.createElement("li");
    li.className = "chat-" + m.from;
    li.dataset.from = m.from;
    li.textContent = m.name + ": " + m.text;
    log.appendChild(li);
  }
  function poll() {
    fetch(box.dataset.api + "?after=" + last, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (b) { (b.messages || []).forEach(function (m) { if (m.id > last) { add(m); } }); })
      .catch(function () {});
  }
  document.getElementById("chat-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("chat-text");
    var status = document.getElementById("chat-status");
    window.aufsicht.postJson(box.dataset.api, {text: input.value})
      .then(function (r) {
        // On an error the text stays in the field to send again, and the reason is shown.
        if (r.ok && r.body.id) { input.value = ""; status.textContent = ""; poll(); }
        else { status.textContent = window.aufsicht.message(r); }
      })
      .catch(function () { status.textContent = box.dataset.msgOffline || "⚠"; });
  });
  setInterval(poll, 2000);
  poll();
})();

// Chat between candidate and proctor: polls for new messages, sends with the CSRF header.
// Message text is inserted with textContent only.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  if (!box) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
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
    fetch(box.dataset.api, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: JSON.stringify({text: input.value})})
      .then(function (r) { return r.json(); })
      .then(function (m) { if (m.id) { input.value = ""; poll(); } });
  });
  setInterval(poll, 2000);
  poll();
})();

// Exam page: autosave every answer as it is given, keep unsent answers across crashes,
// follow the server's clock, submit at zero.
(function () {
  "use strict";
  var form = document.getElementById("exam-form");
  if (!form) { return; }
  var attemptId = form.dataset.attempt;
  var stateUrl = form.dataset.api;
  var status = document.getElementById("save-status");
  var timer = document.getElementById("timer");
  var pendingKey = "aufsicht-pending-" + attemptId;
  var pending = JSON.parse(localStorage.getItem(pendingKey) || "{}");
  var inflight = false;
  var endsAt = Date.now() + Number(timer.dataset.remaining) * 1000;
  var submitting = false;

  function valueOf(fieldset) {
    var kind = fieldset.dataset.kind;
    if (kind === "single_choice") {
      var r = fieldset.querySelector("input:checked");
      return r ? r.value : null;
    }
    if (kind === "multiple_choice") {
      return Array.prototype.map.call(fieldset.querySelectorAll("input:checked"), function (i) { return i.value; });
    }
    if (kind === "gap_text" || kind === "matching") {
      var map = {};
      fieldset.querySelectorAll(kind === "gap_text" ? "[data-gap]" : "[data-premise]").forEach(function (el) {
        if (el.value !== "") { map[el.dataset.gap || el.dataset.premise] = el.value; }
      });
      return map;
    }
    if (kind === "ordering") {
      return Array.prototype.map.call(fieldset.querySelectorAll("li[data-option]"), function (li) { return li.dataset.option; });
    }
    if (kind === "hotspot") {
      var spot = fieldset.querySelector(".hotspot");
      return spot.dataset.x === undefined ? null : {x: Number(spot.dataset.x), y: Number(spot.dataset.y)};
    }
    var input = fieldset.querySelector("input, textarea");
    return input.value;
  }

  // Item types (exams/itemtypes.py): ordering by buttons, hotspot by pointer or keys, file hand-in, word counter.
  function changed(fs) { pending[fs.dataset.question] = valueOf(fs); remember(); flush(); }
  form.querySelectorAll("ol.ordering").forEach(function (list) {
    var said = list.parentNode.querySelector(".order-said");
    list.addEventListener("click", function (ev) {
      var btn = ev.target.closest("button");
      if (!btn) { return; }
      var li = btn.closest("li");
      if (btn.classList.contains("move-up") && li.previousElementSibling) {
        list.insertBefore(li, li.previousElementSibling);
      } else if (btn.classList.contains("move-down") && li.nextElementSibling) {
        list.insertBefore(li.nextElementSibling, li);
      } else { return; }
      btn.focus();
      var place = Array.prototype.indexOf.call(list.children, li) + 1;
      said.textContent = list.dataset.msgMoved.replace("{item}", li.querySelector(".order-text").textContent)
        .replace("{n}", place);
      changed(list.closest("fieldset"));
    });
  });
  form.querySelectorAll(".hotspot").forEach(function (box) {
    var img = box.querySelector("img"), marker = box.querySelector(".hotspot-marker");
    var said = document.getElementById(box.getAttribute("aria-describedby").split(" ")[1]);
    var cursor = null;
    function show(x, y, chosen) {
      if (!img.naturalWidth) { return; }
      marker.hidden = false;
      marker.style.left = (x * img.clientWidth / img.naturalWidth) + "px";
      marker.style.top = (y * img.clientHeight / img.naturalHeight) + "px";
      marker.className = "hotspot-marker" + (chosen ? " chosen" : "");
    }
    function choose(x, y) {
      box.dataset.x = Math.round(x * 10) / 10; box.dataset.y = Math.round(y * 10) / 10;
      show(x, y, true);
      said.textContent = said.dataset.msgPoint.replace("{x}", Math.round(x)).replace("{y}", Math.round(y));
      changed(box.closest("fieldset"));
    }
    function restore() {
      if (box.dataset.x !== undefined) {
        show(Number(box.dataset.x), Number(box.dataset.y), true);
        said.textContent = said.dataset.msgPoint.replace("{x}", Math.round(box.dataset.x)).replace("{y}", Math.round(box.dataset.y));
      } else { said.textContent = said.dataset.msgNone; }
    }
    if (img.complete) { restore(); } else { img.addEventListener("load", restore); }
    img.addEventListener("click", function (ev) {
      var r = img.getBoundingClientRect();
      choose((ev.clientX - r.left) * img.naturalWidth / r.width, (ev.clientY - r.top) * img.naturalHeight / r.height);
    });
    box.addEventListener("keydown", function (ev) {
      var moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
      if (!cursor) {
        cursor = box.dataset.x !== undefined ? [Number(box.dataset.x), Number(box.dataset.y)] : [img.naturalWidth / 2, img.naturalHeight / 2];
      }
      if (moves[ev.key]) {
        ev.preventDefault();
        var step = (ev.shiftKey ? 0.1 : 0.02) * Math.max(img.naturalWidth, img.naturalHeight);
        cursor = [Math.min(img.naturalWidth, Math.max(0, cursor[0] + moves[ev.key][0] * step)),
                  Math.min(img.naturalHeight, Math.max(0, cursor[1] + moves[ev.key][1] * step))];
        show(cursor[0], cursor[1], false);
      } else if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        choose(cursor[0], cursor[1]);
      }
    });
  });
  form.querySelectorAll("input[data-upload]").forEach(function (input) {
    var said = input.parentNode.querySelector(".upload-said");
    input.addEventListener("change", function () {
      if (!input.files.length) { return; }
      var body = new FormData();
      body.append("file", input.files[0]);
      said.textContent = said.dataset.msgSending;
      window.aufsicht.send(input.dataset.upload, {method: "POST", body: body}).then(window.aufsicht.answer).then(function (r) {
        if (r.ok) {
          said.textContent = said.dataset.msgDone.replace("{name}", input.files[0].name);
          var mark = form.querySelector('[data-saved-for="' + input.closest("fieldset").dataset.question + '"]');
          if (mark) { mark.textContent = status.dataset.saved || "✓"; mark.className = "saved ok"; }
        } else {
          said.textContent = r.body.error ? r.body.error.message : status.dataset.msgError;
        }
      }).catch(function () { said.textContent = "⚠ " + status.dataset.msgOffline; });
    });
  });
  function countWords(area) {
    var out = document.getElementById(area.getAttribute("aria-describedby"));
    var n = (area.value.match(/\S+/g) || []).length;
    var text = out.dataset.msgCount.replace("{n}", n) + " (" + out.dataset.msgRange + ")";
    if (out.dataset.min && n < Number(out.dataset.min)) { text += " – " + out.dataset.msgShort; }
    if (out.dataset.max && n > Number(out.dataset.max)) { text += " – " + out.dataset.msgLong; }
    out.textContent = text;
  }
  form.querySelectorAll("fieldset[data-kind=essay] textarea").forEach(function (area) {
    countWords(area);
    area.addEventListener("input", function () { countWords(area); });
  });

  function remember() { localStorage.setItem(pendingKey, JSON.stringify(pending)); }

  function flush() {
    if (inflight) { return; }
    var qids = Object.keys(pending);
    if (!qids.length) { return; }
    var qid = qids[0];
    var value = pending[qid];
    inflight = true;
    // aufsicht.send renews a CSRF token of an earlier session (the candidate logged in again meanwhile)
    // and sends the answer once more: nothing is dropped.
    window.aufsicht.send("/api/attempts/" + attemptId + "/answers/" + encodeURIComponent(qid), {
      method: "PUT", headers: {"Content-Type": "application/json"}, body: JSON.stringify({value: value})
    }).then(window.aufsicht.answer).then(function (r) {
      inflight = false;
      if (r.ok) {
        if (JSON.stringify(pending[qid]) === JSON.stringify(value)) { delete pending[qid]; remember(); }
        var mark = form.querySelector('[data-saved-for="' + qid + '"]');
        if (mark) { mark.textContent = status.dataset.saved || "✓"; mark.className = "saved ok"; }
        status.textContent = "";
        sync(r.body.remaining_seconds);
        flush();
      } else if (r.status === 400 && r.body.error && r.body.error.code === "csrf_invalid") {
        // Still refused with a renewed token: keep the answer, say so; the next change tries again.
        status.textContent = r.body.error.message + " ↻";
        status.className = "error";
      } else if (r.status === 409) {
        delete pending[qid]; remember();
        window.location.reload();
      } else if (r.status === 400 || r.status === 404) {
        delete pending[qid]; remember();
        status.textContent = r.body.error ? r.body.error.message : status.dataset.msgError;
      } else if (r.status === 401) {
        status.textContent = r.body.error.message + " ↻";
        status.className = "error";
      } else {
        status.textContent = "…";
      }
    }).catch(function () {
      inflight = false;
      status.textContent = "⚠ " + status.dataset.msgOffline;
    });
  }

  function sync(seconds) {
    if (typeof seconds === "number") { endsAt = Date.now() + seconds * 1000; }
  }

  // The time said to screen readers at a few moments only (10, 5 and 1 minutes left), in a polite live region:
  // once each, and not those already past when the page opened.
  var announcer = document.getElementById("timer-announce");
  var sayAt = announcer ? JSON.parse(announcer.dataset.at || "{}") : {};
  var said = {};
  Object.keys(sayAt).forEach(function (m) { if (Number(timer.dataset.remaining) <= m * 60) { said[m] = true; } });
  function announce(left) {
    var now = null;  // after a jump (the server's clock, a pause) only the most urgent moment crossed is said
    Object.keys(sayAt).forEach(function (m) {
      if (!said[m] && left <= m * 60 && left > 0) {
        said[m] = true;
        if (now === null || Number(m) < Number(now)) { now = m; }
      }
    });
    if (now !== null) { announcer.textContent = sayAt[now]; }
  }

  function tick() {
    if (paused) { return; }
    var left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
    timer.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (announcer) { announce(left); }
    if (left === 0 && !submitting) {
      submitting = true;
      flush();
      setTimeout(function () { form.submit(); }, 500);
    }
  }

  form.addEventListener("change", onEdit);
  form.addEventListener("input", onEdit);
  var debounce = {};
  function onEdit(ev) {
    var fs = ev.target.closest("fieldset[data-question]");
    if (!fs || fs.dataset.kind === "upload" || fs.dataset.kind === "ordering" || fs.dataset.kind === "hotspot") { return; }
    var qid = fs.dataset.question;
    clearTimeout(debounce[qid]);
    debounce[qid] = setTimeout(function () {
      pending[qid] = valueOf(fs); remember(); flush();
    }, ev.type === "input" && fs.dataset.kind !== "single_choice" && fs.dataset.kind !== "multiple_choice" ? 600 : 0);
  }
  // Submitting by hand asks once, in the page, and says what follows (at the deadline the page submits
  // without asking). Not window.confirm: the browser's own dialog ends fullscreen, which would be flagged.
  var askSubmit = document.getElementById("submit-dialog");
  document.getElementById("submit").addEventListener("click", function (ev) {
    ev.preventDefault();
    askSubmit.showModal();
    document.getElementById("submit-cancel").focus();
  });
  document.getElementById("submit-cancel").addEventListener("click", function () { askSubmit.close(); });
  form.addEventListener("submit", function () { submitting = true; localStorage.removeItem(pendingKey); });

  setInterval(tick, 1000);
  setInterval(flush, 3000);
  var noticeBox = document.getElementById("notices");
  var lastNotice = 0;
  var paused = false;
  function setPaused(on) {
    paused = on;
    form.querySelectorAll("input, textarea, button, select").forEach(function (el) { el.disabled = on; });
    var banner = document.getElementById("paused-banner");
    if (on && !banner) {
      banner = document.createElement("p");
      banner.id = "paused-banner"; banner.className = "error";
      banner.textContent = noticeBox.dataset.paused;
      noticeBox.appendChild(banner);
    } else if (!on && banner) { banner.remove(); }
  }
  // A proctor's call (issue 29): a clear indicator with the proctor's name, the proctor's video, and who is
  // speaking (from the loudness of each side's microphone; nothing is analysed beyond that, nothing stored).
  var callBox = document.getElementById("call-indicator");
  var callFigure = document.getElementById("examiner");
  var meter = null;
  function callState(on, name) {
    if (!callBox) { return; }
    callBox.hidden = false;
    callBox.dataset.state = on ? "on" : "ended";
    callBox.textContent = on ? "\u25CF " + callBox.dataset.msgStarted.replace("{name}", name) : callBox.dataset.msgEnded;
    if (callFigure && callFigure.classList.contains("proctor-call")) { callFigure.hidden = !on; }
    speaking(on, name);
  }
  function speaking(on, name) {
    var out = document.getElementById("call-speaking");
    if (meter) { clearInterval(meter.timer); meter.ctx.close(); meter = null; }
    out.hidden = !on; out.textContent = ""; out.dataset.who = "";
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!on || !Ctx) { return; }
    var ctx = new Ctx();
    if (ctx.resume) { ctx.resume(); }
    function analyser(el) {
      var s = el && el.srcObject;
      if (!s || !s.getAudioTracks().length) { return null; }
      var a = ctx.createAnalyser();
      a.fftSize = 512;
      ctx.createMediaStreamSource(new MediaStream(s.getAudioTracks())).connect(a);
      return a;
    }
    function level(a) {
      if (!a) { return 0; }
      var buf = new Float32Array(a.fftSize), sum = 0;
      a.getFloatTimeDomainData(buf);
      for (var i = 0; i < buf.length; i++) { sum += buf[i] * buf[i]; }
      return Math.sqrt(sum / buf.length);
    }
    var view = document.getElementById("examiner-view"), heard = view && view.srcObject;
    var them = analyser(view), me = analyser(document.getElementById("self-view"));
    meter = {ctx: ctx, timer: setInterval(function () {
      // The caller's sound may come later, on a connection of its own (the Janus plane, media.js): listen anew.
      if (view && (!them || view.srcObject !== heard)) { heard = view.srcObject; them = analyser(view); }
      var a = level(them), b = level(me), who = "";
      if (Math.max(a, b) > 0.01) { who = a >= b ? "proctor" : "candidate"; }
      out.dataset.who = who;
      out.textContent = who ? callBox.dataset.msgSpeaking + ": " + (who === "proctor" ? name : callBox.dataset.msgYou) : "";
    }, 300)};
  }
  function poll() {
    fetch(stateUrl + "?after=" + lastNotice, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      // An error answer (503 while the database restarts) says nothing about the attempt: it must not lift a pause.
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (b) {
        if (b.status && b.status !== "in_progress") { window.location.reload(); return; }
        (b.notices || []).forEach(function (n) {
          lastNotice = Math.max(lastNotice, n.id);
          document.dispatchEvent(new CustomEvent("aufsicht:notice", {detail: n}));  // e.g. the room scan's request
          if (n.kind === "call_started" || n.kind === "call_ended") {
            callState(n.kind === "call_started", (n.detail || {}).proctor || "");
          }
          if (n.kind === "warning" || n.kind === "chat_from_proctor") {
            var p = document.createElement("p");
            p.className = "warning";
            p.dataset.kind = n.kind;
            // A chat message's text is in the chat, not in the notice: the notice points there.
            p.textContent = n.kind === "warning" ? noticeBox.dataset.warning + ": " + n.detail.message
              : noticeBox.dataset.chat;
            noticeBox.appendChild(p);
          }
        });
        if (b.paused !== paused) { setPaused(b.paused); }
        sync(b.remaining_seconds);
      })
      .catch(function () {});
  }
  setInterval(poll, 2000);
  poll();
  tick();
  flush();  // answers kept from a crash or an offline moment go out first
})();

// Proctor pages: the live grid refreshes every second; action forms post JSON.
// Everything user-provided is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  if (grid) {
    var refresh = function () {
      fetch(grid.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (body) {
          var items = body.attempts || [];
          alerts(items);
          // The grid is rebuilt every second: the element a keyboard user had focused is found again in the new
          // tiles (same attempt, same control) and focused, so focus never falls back to the page's start.
          var active = document.activeElement, keep = null, keepTile = null;
          if (active && grid.contains(active) && active.dataset.focusKey) {
            var tileOf = active.closest("li.tile");
            keepTile = tileOf ? 'li.tile[data-attempt="' + tileOf.dataset.attempt + '"]' : null;
            keep = keepTile ? keepTile + ' [data-focus-key="' + active.dataset.focusKey + '"]' : null;
          }
          grid.textContent = "";
          if (!items.length) {
            var empty = document.createElement("li");
            empty.textContent = grid.dataset.labelEmpty;
            grid.appendChild(empty);
          }
          items.forEach(function (t) {
            var li = document.createElement("li");
            li.className = "tile" + (t.open_flags ? " flagged" : "") + (t.new_flags ? " alerted new-flag" : "");
            li.dataset.attempt = t.attempt_id;
            if (t.new_flags) {  // first on the grid (the server orders), marked in words, one click to talk
              var alertNew = document.createElement("p");
              alertNew.className = "alert new-flags";
              alertNew.appendChild(document.createTextNode("\u26A0 " + grid.dataset.labelNewFlags + ": " + t.new_flags + " "));
              var talk = document.createElement("a");
              talk.href = "/proctor/attempts/" + t.attempt_id + "#oral-call";
              talk.className = "talk-link"; talk.dataset.focusKey = "talk";
              talk.textContent = grid.dataset.labelTalk;
              alertNew.appendChild(talk);
              li.appendChild(alertNew);
            }
            if (t.snapshot_url) {
              var img = document.createElement("img");
              img.src = t.snapshot_url; img.alt = t.candidate; img.width = 240; img.height = 180;
              li.appendChild(img);
            }
            if (t.screen_url) {  // the shared screen beside the webcam; one click to it live
              var screenLink = document.createElement("a");
              screenLink.href = "/proctor/attempts/" + t.attempt_id + "#live-view";
              screenLink.className = "screen-thumb"; screenLink.dataset.focusKey = "screen";
              var screenImg = document.createElement("img");
              screenImg.src = t.screen_url; screenImg.alt = grid.dataset.labelScreen + ": " + t.candidate;
              screenImg.width = 240; screenImg.height = 135;
              screenLink.appendChild(screenImg);
              li.appendChild(screenLink);
            }
            if (t.phone_url) {  // the phone, the second camera, beside the webcam (issue 29)
              var phoneImg = document.createElement("img");
              phoneImg.className = "phone-thumb";
              phoneImg.src = t.phone_url; phoneImg.alt = grid.dataset.labelPhone + ": " + t.candidate;
              phoneImg.width = 135; phoneImg.height = 240;
              li.appendChild(phoneImg);
            }
            var a = document.createElement("a");
            a.href = "/proctor/attempts/" + t.attempt_id;
            a.textContent = t.candidate; a.dataset.focusKey = "name";
            li.appendChild(a);
            var p = document.createElement("p");
            var left = t.remaining_seconds;
            p.textContent = t.exam + " · " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " " +
              grid.dataset.labelLeft + (t.paused ? " · " + grid.dataset.labelPaused : "") +
              (t.connection ? " · " + connectionLabel(t.connection) : "") + " · " + t.open_flags + " " +
              grid.dataset.labelFlags;
            li.appendChild(p);
            tileExtras(li, t);
            if (t.room_scan) {  // issue 29: the candidate shows the room now (the snapshot above shows it too)
              var scan = document.createElement("p");
              scan.className = "room-scan-label";
              scan.textContent = t.room_scan;
              li.appendChild(scan);
            }
            if (t.recording === "storage_failed") {  // the exam goes on; the recording has a gap until storage is back
              var alert = document.createElement("p");
              alert.className = "alert recording-failed";
              sayOnce(alert, t.attempt_id + ":recording");
              alert.textContent = grid.dataset.labelRecordingFailed;
              li.appendChild(alert);
              li.className += " alerted";
            }
            if (t.screen === "stopped") {  // an exam that records the screen: the candidate is not sharing it
              var screenAlert = document.createElement("p");
              screenAlert.className = "alert screen-stopped";
              sayOnce(screenAlert, t.attempt_id + ":screen");
              screenAlert.textContent = grid.dataset.labelScreenStopped;
              li.appendChild(screenAlert);
              li.className += " alerted";
            }
            if (t.phone === "stopped") {  // an exam with a second camera: the phone sends nothing
              var phoneAlert = document.createElement("p");
              phoneAlert.className = "alert phone-stopped";
              phoneAlert.setAttribute("role", "alert");
              phoneAlert.textContent = grid.dataset.labelPhoneStopped;
              li.appendChild(phoneAlert);
              li.className += " alerted";
            }
            grid.appendChild(li);
          });
          if (keep) {  // the same control, or (a flag just decided is gone) the candidate's name on the same tile
            var again = grid.querySelector(keep) || grid.querySelector(keepTile + ' [data-focus-key="name"]');
            if (again) { again.focus({preventScroll: true}); }
          }
        })
        .catch(function () { document.getElementById("live-status").textContent = "⚠"; });
    };
    refresh();
    setInterval(refresh, 1000);
  }
  // An alert on a tile is announced to screen readers once, when it appears, not at every rebuild of the grid.
  var announced = {};
  function sayOnce(el, key) {
    if (!announced[key]) { el.setAttribute("role", "alert"); announced[key] = true; }
  }
  // Counts over the grid, and a sound (if the proctor turned it on) when a flag appears that was not there before.
  var seenFlags = null;
  var sound = document.getElementById("alert-sound");
  if (sound) {
    sound.checked = localStorage.getItem("aufsicht.alertSound") === "on";
    sound.addEventListener("change", function () { localStorage.setItem("aufsicht.alertSound", sound.checked ? "on" : "off"); });
  }
  function alerts(items) {
    var needing = items.filter(function (t) { return t.new_flags; }).length;
    var summary = document.getElementById("grid-summary");
    summary.dataset.alerts = needing;
    var said = items.length + " " + grid.dataset.labelSummary + " \u00B7 " + needing + " " + grid.dataset.labelSummaryAlerts;
    if (summary.textContent !== said) { summary.textContent = said; }  // a live region: changes only
    var ids = {}, fresh = false;
    items.forEach(function (t) { (t.flags || []).forEach(function (f) { ids[f.id] = true; if (seenFlags && !seenFlags[f.id]) { fresh = true; } }); });
    seenFlags = ids;
    if (fresh && sound && sound.checked) { beep(); }
  }
  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    var ctx = new Ctx(), osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.2;
    osc.connect(gain); gain.connect(ctx.destination);
    osc.start(); osc.stop(ctx.currentTime + 0.3);
    osc.onended = function () { ctx.close(); };
    grid.dataset.beeps = String(Number(grid.dataset.beeps || 0) + 1);
  }
  // The media connection's state in words (the engine reports RTCPeerConnection states).
  function connectionLabel(state) {
    var key = "labelConn" + state.charAt(0).toUpperCase() + state.slice(1);
    return grid.dataset[key] || state;
  }
  // A tile's accommodation and open flags; each flag opens the decision dialog (outside the grid, so the
  // refresh every second never wipes a note being typed).
  function tileExtras(li, t) {
    if (t.accommodation) {
      var acc = document.createElement("p");
      acc.className = "accommodation";
      var parts = [];
      if (t.accommodation.extra_minutes) {
        parts.push("+" + t.accommodation.extra_minutes + " " + grid.dataset.labelMinutes + " " + grid.dataset.labelExtraTime);
      }
      if (t.accommodation.silenced.length) { parts.push(grid.dataset.labelSilenced + ": " + t.accommodation.silenced.join(", ")); }
      acc.textContent = grid.dataset.labelAccommodation + ": " + parts.join(" · ") + " (" + t.accommodation.reason + ")";
      li.appendChild(acc);
    }
    if (!(t.flags || []).length) { return; }
    var ul = document.createElement("ul");
    ul.className = "tile-flags";
    t.flags.forEach(function (f) {
      var item = document.createElement("li");
      item.dataset.flag = f.id; item.dataset.kind = f.kind;
      var since = new Date(f.started_at).toLocaleTimeString(document.documentElement.lang || [], {hour: "2-digit", minute: "2-digit"});
      item.appendChild(document.createTextNode(f.label + " (" + grid.dataset.labelSince + " " + since + ") "));
      var b = document.createElement("button");
      b.type = "button"; b.className = "decide-flag"; b.textContent = grid.dataset.labelDecide;
      b.dataset.focusKey = "flag-" + f.id;
      b.setAttribute("aria-label", grid.dataset.labelDecide + ": " + f.label + " – " + t.candidate);
      b.addEventListener("click", function () { openFlagDialog(t, f); });
      item.appendChild(b);
      ul.appendChild(item);
    });
    li.appendChild(ul);
  }
  var flagDialog = document.getElementById("flag-dialog");
  var flagTarget = null;
  function openFlagDialog(t, f) {
    flagTarget = {attempt: t.attempt_id, flag: f.id};
    document.getElementById("flag-dialog-kind").textContent = f.label;
    document.getElementById("flag-dialog-who").textContent = t.candidate + " · " + t.exam;
    document.getElementById("flag-dialog-note").value = "";
    document.getElementById("flag-dialog-error").textContent = "";
    flagDialog.showModal();
  }
  // When the dialog closes, focus goes back to the tile it came from (the button that opened it was replaced by
  // the grid's rebuild meanwhile): the same flag's button if it was not decided (cancelled), else the tile's next
  // flag's button, or the candidate's name. A decided flag leaves the tile at once, so focus never rests on a
  // button the next rebuild takes away (focus would fall back to the page's start).
  function focusTile() {
    if (!flagTarget) { return; }
    var tile = grid.querySelector('li.tile[data-attempt="' + flagTarget.attempt + '"]');
    if (!tile) { return; }
    var own = tile.querySelector('[data-focus-key="flag-' + flagTarget.flag + '"]');
    if (flagTarget.decided && own) {
      var item = own.closest("li[data-flag]");
      if (item) { item.remove(); }
      own = null;
    }
    var to = own || tile.querySelector("button.decide-flag") || tile.querySelector('[data-focus-key="name"]');
    if (to) { to.focus(); }
  }
  if (flagDialog) {
    ["flag-confirm", "flag-dismiss"].forEach(function (id) {
      document.getElementById(id).addEventListener("click", function (ev) {
        if (!flagTarget) { return; }
        var url = grid.dataset.flagApi.replace(/\/0\/flags\/0$/, "/" + flagTarget.attempt + "/flags/" + flagTarget.flag);
        window.aufsicht.postJson(url, {decision: ev.target.dataset.decision,
                                       note: document.getElementById("flag-dialog-note").value})
          .then(function (r) {
            if (r.ok) { flagTarget.decided = true; flagDialog.close(); return; }
            document.getElementById("flag-dialog-error").textContent = window.aufsicht.message(r);
          });
      });
    });
    document.getElementById("flag-cancel").addEventListener("click", function () { flagDialog.close(); });
    flagDialog.addEventListener("close", function () { setTimeout(function () { focusTile(); flagTarget = null; }, 0); });
  }
  // Candidates waiting for the identity check by a proctor, refreshed every two seconds as they arrive.
  var queue = document.getElementById("manual-queue");
  if (queue) {
    var refreshQueue = function () {
      fetch(queue.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) {
          var items = body.checks || [];
          var focused = document.activeElement && queue.contains(document.activeElement)
            ? document.activeElement.closest("li[data-check]") : null;
          var keepCheck = focused ? focused.dataset.check : null;
          queue.textContent = "";
          if (!items.length) {
            var empty = document.createElement("li");
            empty.textContent = queue.dataset.labelEmpty;
            queue.appendChild(empty);
          }
          items.forEach(function (c) {
            var li = document.createElement("li");
            li.dataset.check = c.check_id;
            li.dataset.connected = c.connected ? "yes" : "no";
            var a = document.createElement("a");
            a.href = "/proctor/identity/" + c.check_id;
            a.textContent = c.candidate;
            li.appendChild(a);
            var since = new Date(c.waiting_since);
            li.appendChild(document.createTextNode(" – " + c.exam + " · " + queue.dataset.labelSince + " " +
              since.toLocaleTimeString(document.documentElement.lang || [], {hour: "2-digit", minute: "2-digit"}) + " · " +
              (c.connected ? queue.dataset.labelConnected : queue.dataset.labelNotConnected)));
            queue.appendChild(li);
            if (keepCheck && String(c.check_id) === keepCheck) { a.focus({preventScroll: true}); }
          });
          document.getElementById("manual-queue-status").textContent = "";
        })
        .catch(function () { document.getElementById("manual-queue-status").textContent = "⚠"; });
    };
    refreshQueue();
    setInterval(refreshQueue, 2000);
  }
  // Buttons that end something for good ask once before their form is sent.
  document.querySelectorAll("button[data-ask]").forEach(function (b) {
    b.addEventListener("click", function (ev) { if (!window.confirm(b.dataset.ask)) { ev.preventDefault(); } });
  });
  // One click to live video: a receive-only WebRTC connection relayed by the media engine.
  var liveView = document.getElementById("live-view");
  if (liveView) {
    document.getElementById("watch").addEventListener("click", function () {
      var state = document.getElementById("watch-state");
      var pc = new RTCPeerConnection({iceServers: JSON.parse(liveView.dataset.ice || "[]")});  // the TURN servers configured
      pc.addTransceiver("video", {direction: "recvonly"});
      pc.addTransceiver("audio", {direction: "recvonly"});
      var screenView = document.getElementById("live-screen");  // exams that record the screen: it comes too
      if (screenView) { pc.addTransceiver("video", {direction: "recvonly"}); }
      var stream = new MediaStream();
      document.getElementById("live-video").srcObject = stream;
      var videos = 0;
      pc.ontrack = function (ev) {
        if (ev.track.kind === "video" && ++videos === 2 && screenView) {
          screenView.srcObject = new MediaStream([ev.track]);
          return;
        }
        stream.addTrack(ev.track);
      };
      var wasConnected = false;
      pc.onconnectionstatechange = function () {
        var words = JSON.parse(state.dataset.words || "{}");  // the state in words, never the raw value
        state.textContent = words[pc.connectionState] || ""; state.dataset.state = pc.connectionState;
        if (pc.connectionState === "connected") { wasConnected = true; }
        if (pc.connectionState === "failed") {  // why, in words, never a silent wait
          window.aufsicht.whyFailed(pc, wasConnected).then(function (why) { state.textContent = why; });
        }
      };
      var gathered = function () {
        return new Promise(function (res) {
          if (pc.iceGatheringState === "complete") { res(); return; }
          pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
          setTimeout(res, 5000);
        });
      };
      pc.createOffer().then(function (o) { return pc.setLocalDescription(o); })
        .then(gathered)
        .then(function () {
          return window.aufsicht.postJson(liveView.dataset.offer, {sdp: pc.localDescription.sdp});
        })
        .then(function (r) {
          if (!r.ok || !r.body.sdp) { state.textContent = window.aufsicht.message(r, "error"); return; }
          if (r.body.type !== "offer") { return pc.setRemoteDescription(r.body); }
          // The media server offers instead (Janus): ours said what we want; take its offer and answer it.
          return pc.setLocalDescription({type: "rollback"})
            .then(function () { return pc.setRemoteDescription(r.body); })
            .then(function () { return pc.createAnswer(); })
            .then(function (a) { return pc.setLocalDescription(a); })
            .then(gathered)
            .then(function () {
              return window.aufsicht.postJson(liveView.dataset.answer, {type: "answer", sdp: pc.localDescription.sdp});
            })
            .then(function (r2) { if (!r2.ok) { state.textContent = window.aufsicht.message(r2, "error"); } });
        });
    });
  }
  var actions = document.getElementById("actions");
  if (actions) {
    actions.querySelectorAll("form[data-action]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (f.dataset.ask && !window.confirm(f.dataset.ask)) { return; }
        var data = {};
        new FormData(f).forEach(function (v, k) { data[k] = v; });
        window.aufsicht.postJson(actions.dataset.api.replace(/X$/, f.dataset.action), data).then(function (r) {
          if (r.ok) { window.location.reload(); return; }
          var out = f.querySelector(".action-error") || f.appendChild(document.createElement("span"));
          out.className = "action-error error";
          out.textContent = window.aufsicht.message(r);
        });
      });
    });
  }
})();

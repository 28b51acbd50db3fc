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
          grid.textContent = "";
          if (!items.length) {
            var empty = document.createElement("li");
            empty.textContent = grid.dataset.labelEmpty;
            grid.appendChild(empty);
          }
          items.forEach(function (t) {
            var li = document.createElement("li");
            li.className = "tile" + (t.open_flags ? " flagged" : "");
            li.dataset.attempt = t.attempt_id;
            if (t.snapshot_url) {
              var img = document.createElement("img");
              img.src = t.snapshot_url; img.alt = t.candidate; img.width = 240; img.height = 180;
              li.appendChild(img);
            }
            var a = document.createElement("a");
            a.href = "/proctor/attempts/" + t.attempt_id;
            a.textContent = t.candidate;
            li.appendChild(a);
            var p = document.createElement("p");
            var left = t.remaining_seconds;
            p.textContent = t.exam + " · " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " " +
              grid.dataset.labelLeft + (t.paused ? " · " + grid.dataset.labelPaused : "") +
              (t.connection ? " · " + t.connection : "") + " · " + t.open_flags + " " + grid.dataset.labelFlags;
            li.appendChild(p);
            if (t.recording === "storage_failed") {  // the exam goes on; the recording has a gap until storage is back
              var alert = document.createElement("p");
              alert.className = "alert recording-failed";
              alert.setAttribute("role", "alert");
              alert.textContent = grid.dataset.labelRecordingFailed;
              li.appendChild(alert);
              li.className += " alerted";
            }
            grid.appendChild(li);
          });
        })
        .catch(function () { document.getElementById("live-status").textContent = "⚠"; });
    };
    refresh();
    setInterval(refresh, 1000);
  }
  // Candidates waiting for the identity check by a proctor, refreshed every two seconds as they arrive.
  var queue = document.getElementById("manual-queue");
  if (queue) {
    var refreshQueue = function () {
      fetch(queue.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) {
          var items = body.checks || [];
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
  // Review: a timeline entry seeks the recording part that covers its time.
  document.querySelectorAll("button.seek").forEach(function (b) {
    b.addEventListener("click", function () {
      var at = Date.parse(b.dataset.at);
      var best = null;
      document.querySelectorAll("video.playback").forEach(function (v) {
        var started = Date.parse(v.dataset.started);
        if (started <= at && (!best || started > Date.parse(best.dataset.started))) { best = v; }
      });
      if (best) { best.currentTime = Math.max(0, (at - Date.parse(best.dataset.started)) / 1000 - 2); best.play(); }
    });
  });
  // One click to live video: a receive-only WebRTC connection relayed by the media engine.
  var liveView = document.getElementById("live-view");
  if (liveView) {
    document.getElementById("watch").addEventListener("click", function () {
      var state = document.getElementById("watch-state");
      var pc = new RTCPeerConnection({iceServers: []});
      pc.addTransceiver("video", {direction: "recvonly"});
      pc.addTransceiver("audio", {direction: "recvonly"});
      var stream = new MediaStream();
      document.getElementById("live-video").srcObject = stream;
      pc.ontrack = function (ev) { stream.addTrack(ev.track); };
      pc.onconnectionstatechange = function () { state.textContent = pc.connectionState; state.dataset.state = pc.connectionState; };
      pc.createOffer().then(function (o) { return pc.setLocalDescription(o); })
        .then(function () {
          return new Promise(function (res) {
            if (pc.iceGatheringState === "complete") { res(); return; }
            pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
            setTimeout(res, 5000);
          });
        })
        .then(function () {
          return window.aufsicht.postJson(liveView.dataset.offer, {sdp: pc.localDescription.sdp});
        })
        .then(function (r) {
          if (!r.ok || !r.body.sdp) { state.textContent = window.aufsicht.message(r, "error"); return; }
          return pc.setRemoteDescription(r.body);
        });
    });
  }
  var actions = document.getElementById("actions");
  if (actions) {
    actions.querySelectorAll("form[data-action]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
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

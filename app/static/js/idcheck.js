// Identity check: upload the ID photo, capture selfie frames while the candidate follows a
// random head-turn challenge, then poll the status. Or, for the check by a proctor, connect the camera
// to our media engine for the proctor's live view and wait for the decision. All text comes from data
// attributes.
(function () {
  "use strict";
  var manual = document.getElementById("manual");
  if (manual) { checkByProctor(manual); }
  var root = document.getElementById("idcheck");
  if (!root) { return; }
  var examId = root.dataset.exam;
  var statusEl = document.getElementById("idcheck-status");
  var msg = root.dataset;

  function post(url, body) {
    return window.aufsicht.send(url, {method: "POST", body: body}).then(window.aufsicht.answer);
  }

  function show(state) {
    var s = state.status;
    statusEl.dataset.status = s || "";
    if (s === "processing") { statusEl.textContent = msg.msgProcessing; setTimeout(poll, 1500); }
    else if (s === "verified") { statusEl.textContent = msg.msgVerified; }
    else if (s === "review") { statusEl.textContent = msg.msgReview; }
    else if (s === "rejected") { statusEl.textContent = msg.msgRejected + " " + (state.decision_reason || ""); }
    else if (s === "retake") {
      statusEl.textContent = msg.msgRetake + " " + (state.reason || "") + " · " + msg.msgRetakes + " " + state.retakes_left;
    }
    else { statusEl.textContent = ""; }
  }

  function poll() {
    // An error answer (503 while the database restarts) is no status: ask again, as when offline.
    fetch(root.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(show).catch(function () { setTimeout(poll, 3000); });
  }

  function error(body) {
    statusEl.dataset.status = "error";
    statusEl.textContent = body.error ? body.error.message : "Error";
  }

  document.getElementById("doc-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("doc-file");
    if (!input.files.length) { return; }
    var fd = new FormData();
    fd.append("file", input.files[0]);
    var back = document.getElementById("doc-back");
    if (back.files.length) { fd.append("back", back.files[0]); }
    fd.append("mrz", document.getElementById("doc-mrz").value);
    post("/api/identity/" + examId + "/document", fd).then(function (r) {
      if (r.ok) { document.getElementById("doc-state").textContent = "✓"; show(r.body); } else { error(r.body); }
    });
  });

  // The head movements on the live camera: the camera connects to our media engine over WebRTC, the
  // server draws and times the moves and tells this page only the move asked now; the engine takes the
  // frames from the video it receives. No picture is sent by this page.
  var video = document.getElementById("selfie-video");
  var prompt = document.getElementById("challenge");
  var begin = document.getElementById("liveness-begin");
  var liveApi = "/api/identity/" + examId + "/liveness";
  var pc = null, stream = null;

  function hangUp() {
    if (pc) { pc.close(); pc = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
  }

  // "Start the movements" once the camera's picture really flows (about a second of video sent, or 4 s
  // after connecting where the browser gives no count): the server refuses a start before it receives
  // frames, and the selfie it takes just before the first prompt is sharper once the encoder has ramped up.
  function whenSending(conn, then) {
    var since = Date.now();
    (function check() {
      if (conn !== pc) { return; }
      conn.getStats().then(function (report) {
        var sent = 0;
        report.forEach(function (s) { if (s.type === "outbound-rtp" && s.kind === "video") { sent = s.framesSent || 0; } });
        if (sent >= 30 || Date.now() - since > 4000) { then(); } else { setTimeout(check, 250); }
      }, function () { then(); });
    })();
  }

  document.getElementById("selfie-start").addEventListener("click", function () {
    if (!navigator.mediaDevices) { prompt.textContent = msg.msgNocam; return; }
    hangUp();
    prompt.textContent = msg.msgConnecting;
    navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true})
      .catch(function () { prompt.textContent = msg.msgNocam; throw null; })
      .then(function (s) {
        stream = s;
        video.srcObject = stream;
        pc = new RTCPeerConnection({iceServers: JSON.parse(msg.ice || "[]")});
        stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
        pc.onconnectionstatechange = function () {
          if (!pc) { return; }
          if (pc.connectionState === "connected") { whenSending(pc, function () { prompt.textContent = msg.msgReady; begin.hidden = false; }); }
          else if (pc.connectionState === "failed") {  // why, in words, where the browser can tell
            var failed = pc;
            prompt.textContent = msg.msgFailed; begin.hidden = true;
            window.aufsicht.whyFailed(failed, false).then(function (why) { if (pc === failed) { prompt.textContent = why; } });
          }
        };
        return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); });
      })
      .then(function () {
        return new Promise(function (res) {  // the engine does not trickle ICE: send all candidates at once
          if (pc.iceGatheringState === "complete") { res(); return; }
          pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
          setTimeout(res, 5000);
        });
      })
      .then(function () {
        // the camera's device label goes along: a known virtual camera is noted for the reviewer (never refused)
        var track = stream.getVideoTracks()[0];
        return window.aufsicht.postJson("/api/identity/" + examId + "/camera/offer",
                                        {sdp: pc.localDescription.sdp, camera: track ? track.label : ""});
      })
      .then(function (r) {
        if (!r.ok || !r.body.sdp) { prompt.textContent = window.aufsicht.message(r, msg.msgFailed); return; }
        return pc.setRemoteDescription(r.body);
      })
      .catch(function (e) { if (e !== null) { prompt.textContent = msg.msgFailed; } });
  });

  begin.addEventListener("click", function () {
    begin.hidden = true;
    window.aufsicht.postJson(liveApi, {}).then(function (r) {
      if (!r.ok) { begin.hidden = false; error(r.body); return; }
      follow(r.body);
    });
  });

  function follow(state) {
    var words = {left: msg.msgLeft, right: msg.msgRight, up: msg.msgUp, down: msg.msgDown};
    prompt.dataset.step = state.phase === "move" ? state.move : state.phase;
    if (state.phase === "done") {
      prompt.textContent = "";
      // the engine keeps the camera a moment after the last deadline; then the check runs
      setTimeout(function () { hangUp(); waitForCheck(Date.now()); }, 1200);
      return;
    }
    prompt.textContent = state.phase === "move" ? words[state.move] : msg.msgStraight;
    setTimeout(function () {
      fetch(liveApi, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(follow).catch(function () { setTimeout(function () { follow(state); }, 300); });
    }, 200);
  }

  function waitForCheck(since) {
    fetch(root.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (state) {
        if (state.status === "started" && Date.now() - since < 8000) { setTimeout(function () { waitForCheck(since); }, 500); return; }
        if (state.status === "started") { prompt.textContent = msg.msgLost; return; }
        show(state);
      })
      .catch(function () { setTimeout(function () { waitForCheck(since); }, 1000); });
  }

  poll();

  function checkByProctor(box) {
    var m = box.dataset;
    var statusEl = document.getElementById("idcheck-status");
    var state = document.getElementById("manual-state");
    var pc = null;
    // The proctor who calls, on a connection of its own where the media plane sends a call that way (Janus: the
    // server offers, this page answers; asked every 3 s while connected); on aiortc it comes on ``pc`` itself.
    var receiver = null, askTimer = null, callOnOwn = false;
    var receiveUrl = (m.offer || "").replace(/\/offer$/, "/receive");

    function callShown(on) {
      document.getElementById("manual-call").hidden = !on;
      document.getElementById("manual-call-state").dataset.state = on ? "on" : "ended";
    }

    function showTrack(proctorStream, track) {
      proctorStream.addTrack(track);
      if (track.kind !== "video") { return; }
      track.onunmute = function () { callShown(true); };
      track.onmute = function () { callShown(false); };
    }

    function askSoon(ms) { if (!askTimer) { askTimer = setTimeout(askProctor, ms); } }

    function askProctor() {
      askTimer = null;
      if (callOnOwn || receiver || !pc || pc.connectionState !== "connected") { return; }
      window.aufsicht.postJson(receiveUrl, {}).then(function (r) {
        if (r.ok && r.body.receive === false) { callOnOwn = true; return null; }
        if (!r.ok || r.body.type !== "offer" || receiver) { askSoon(3000); return null; }
        var rc = new RTCPeerConnection({iceServers: JSON.parse(m.ice || "[]")}), proctorStream = new MediaStream();
        receiver = rc;
        document.getElementById("manual-proctor").srcObject = proctorStream;
        rc.ontrack = function (ev) { showTrack(proctorStream, ev.track); };
        rc.onconnectionstatechange = function () {  // the proctor hung up (or the way broke): ask again
          if (rc === receiver && (rc.connectionState === "failed" || rc.connectionState === "closed")) {
            receiver = null;
            callShown(false);
            askSoon(3000);
          }
        };
        return rc.setRemoteDescription({type: "offer", sdp: r.body.sdp})
          .then(function () { return rc.createAnswer(); })
          .then(function (a) { return rc.setLocalDescription(a); })
          .then(function () {
            return new Promise(function (res) {
              if (rc.iceGatheringState === "complete") { res(); return; }
              rc.addEventListener("icegatheringstatechange", function () { if (rc.iceGatheringState === "complete") { res(); } });
              setTimeout(res, 5000);
            });
          })
          .then(function () { return window.aufsicht.postJson(receiveUrl, {sdp: rc.localDescription.sdp}); })
          .then(function (a) { if (!a.ok) { throw a; } });
      }).catch(function () {
        if (receiver) { receiver.close(); receiver = null; }
        askSoon(3000);
      });
    }

    function mark(key, text) { state.dataset.state = key; state.textContent = text; }

    function waitForDecision() {
      fetch(m.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) {
          statusEl.dataset.status = body.status || "";
          if (body.status === "verified") {
            statusEl.textContent = m.msgVerified;
            document.getElementById("manual-continue").hidden = false;
            if (pc) { pc.close(); }
            if (receiver) { receiver.close(); receiver = null; }
          } else if (body.status === "rejected") {
            statusEl.textContent = m.msgRejected + " " + (body.decision_reason || "");
            if (pc) { pc.close(); }
            if (receiver) { receiver.close(); receiver = null; }
          } else { setTimeout(waitForDecision, 1500); }
        })
        .catch(function () { setTimeout(waitForDecision, 3000); });
    }

    document.getElementById("manual-connect").addEventListener("click", function () {
      mark("connecting", m.msgConnecting);
      navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true})
        .catch(function () { mark("failed", m.msgNocam); throw null; })
        .then(function (stream) {
          document.getElementById("manual-video").srcObject = stream;
          if (pc) { pc.close(); }
          pc = new RTCPeerConnection({iceServers: JSON.parse(m.ice || "[]")});
          stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
          // The proctor may talk to the candidate (issue 29): their camera and microphone come back here and
          // the call is shown with an indicator as soon as the proctor's video arrives.
          var proctorStream = new MediaStream();
          document.getElementById("manual-proctor").srcObject = proctorStream;
          pc.ontrack = function (ev) { showTrack(proctorStream, ev.track); };
          if (receiver) { receiver.close(); receiver = null; }
          pc.onconnectionstatechange = function () {
            if (pc.connectionState === "connected") { mark("connected", m.msgConnected); askSoon(0); }
            else if (pc.connectionState === "failed") {  // why, in words, where the browser can tell
              var failed = pc;
              mark("failed", m.msgFailed);
              window.aufsicht.whyFailed(failed, false).then(function (why) { if (pc === failed) { mark("failed", why); } });
            }
          };
          return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); });
        })
        .then(function () {
          return new Promise(function (res) {
            if (pc.iceGatheringState === "complete") { res(); return; }
            pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
            setTimeout(res, 5000);
          });
        })
        .then(function () { return window.aufsicht.postJson(m.offer, {sdp: pc.localDescription.sdp}); })
        .then(function (r) {
          if (!r.ok || !r.body.sdp) { mark("failed", window.aufsicht.message(r, m.msgFailed)); return; }
          return pc.setRemoteDescription(r.body);
        })
        .catch(function (e) { if (e !== null) { mark("failed", m.msgFailed); } });
    });
    waitForDecision();
  }
})();

// System check: camera, microphone (with a level meter) and a WebRTC connection to our media engine.
(function () {
  "use strict";
  var root = document.getElementById("syscheck");
  if (!root) { return; }
  var examId = root.dataset.exam;
  var msg = root.dataset;

  function mark(id, state, text) {
    var el = document.getElementById(id);
    el.dataset.state = state;
    el.textContent = text;
  }

  function post(url, body) {
    return window.aufsicht.postJson(url, body).then(function (r) { if (!r.ok) { throw r.body; } return r.body; });
  }

  // What this browser lacks of what the exam needs, as the page's words (empty: nothing). WebRTC and camera access
  // are needed by every supervised exam, getDisplayMedia by one that records the screen; fullscreen is asked for
  // where the browser has it (iPhone Safari has none for a page: the exam goes on, the proctor sees it).
  function missing() {
    var out = [];
    if (!window.RTCPeerConnection) { out.push(msg.needWebrtc); }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { out.push(msg.needCamera); }
    if (withScreen && !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia)) { out.push(msg.needScreen); }
    return out;
  }

  function browserStep() {
    var lacks = missing();
    if (lacks.length) { mark("check-browser", "failed", msg.msgBrowser + " " + lacks.join(", ") + ". " + msg.msgBrowserAdvice); throw "browser"; }
    var full = document.fullscreenEnabled && document.documentElement.requestFullscreen;
    mark("check-browser", "ok", full ? msg.msgOk : msg.msgNoFullscreen);
  }

  // Resolves to whether the audio context's clock runs, once it does (false after 5 s): Firefox starts its audio
  // 0.6-1.9 s after the context is made, and a level read before that is silence ("we hear nothing" for a working
  // microphone). A browser without any audio output (a server without a sound device) never starts it.
  function running(ctx) {
    return new Promise(function (resolve) {
      if (ctx.resume) { ctx.resume().catch(function () { /* the clock check below decides */ }); }
      var began = Date.now();
      var t = setInterval(function () {
        var runs = ctx.state === "running" && ctx.currentTime > 0;
        if (runs || Date.now() - began > 5000) { clearInterval(t); resolve(runs); }
      }, 50);
    });
  }

  // The microphone's peak level over up to 3 s of running audio (done early once it is heard); null where the
  // browser's audio never ran (the level cannot be measured here; the connection step still needs its sound).
  function micLevel(stream) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return Promise.resolve(null); }
    var ctx = new Ctx();
    var analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(stream).connect(analyser);
    return running(ctx).then(function (runs) {
      if (!runs) { ctx.close(); return null; }
      return new Promise(function (resolve) {
        var data = new Uint8Array(analyser.fftSize);
        var peak = 0, n = 0;
        var t = setInterval(function () {
          analyser.getByteTimeDomainData(data);
          for (var i = 0; i < data.length; i++) { peak = Math.max(peak, Math.abs(data[i] - 128)); }
          if (++n >= 30 || (n >= 5 && peak >= 2)) { clearInterval(t); ctx.close(); resolve(peak); }
        }, 100);
      });
    });
  }

  function connection(stream) {
    var pc = new RTCPeerConnection({iceServers: JSON.parse(root.dataset.ice || "[]")});
    stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
    if (screenTrack) { pc.addTrack(screenTrack); }  // the second video track, as in the exam
    return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); })
      .then(function () {
        return new Promise(function (res) {
          if (pc.iceGatheringState === "complete") { res(); return; }
          pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
          setTimeout(res, 5000);
        });
      })
      .then(function () { return post("/api/exams/" + examId + "/system-check/offer", {sdp: pc.localDescription.sdp}); })
      .then(function (answer) { return pc.setRemoteDescription(answer); })
      .then(function () {
        return new Promise(function (res, rej) {
          var tries = 0;
          // Never connected: say why, in words (the browser's own view of its candidates and checks).
          var failed = function () { window.aufsicht.whyFailed(pc, false).then(function (why) { rej({why: why}); }); };
          var t = setInterval(function () {
            if (pc.connectionState === "failed") { clearInterval(t); failed(); return; }
            if (pc.connectionState !== "connected") { if (++tries > 40) { clearInterval(t); failed(); } return; }
            post("/api/exams/" + examId + "/system-check/confirm").then(function (body) {
              clearInterval(t); pc.close(); if (screenTrack) { screenTrack.stop(); }
              var path = document.getElementById("check-path");  // which way it went, for support
              path.textContent = body.path === "relay" ? msg.msgPathRelay : body.path === "direct" ? msg.msgPathDirect : "";
              path.dataset.path = body.path || "";
              res();
            }).catch(function () { if (++tries > 40) { clearInterval(t); rej(); } });
          }, 500);
        });
      });
  }

  // Exams that record the screen: a whole monitor first (asked while the click still counts as the user's),
  // a window or tab is refused with the reason; more than one screen is said where the browser can tell.
  var withScreen = root.dataset.screen === "yes";
  var screenTrack = null;
  function screenStep() {
    if (!withScreen) { return Promise.resolve(); }
    mark("check-screen", "pending", msg.msgChecking);
    return window.aufsicht.askScreen().then(function (track) {
      screenTrack = track;
      return window.aufsicht.moreScreens().then(function (more) {
        if (more) { mark("check-screen", "failed", msg.msgMoreScreens); track.stop(); throw "screen"; }
        mark("check-screen", "ok", msg.msgOk);
      });
    }, function (e) {
      mark("check-screen", "failed", e && e.surface ? msg.msgNotMonitor : msg.msgScreenDenied);
      throw "screen";
    });
  }

  document.getElementById("check-start").addEventListener("click", function () {
    ["check-browser", "check-camera", "check-microphone", "check-connection"].forEach(function (id) { mark(id, "pending", msg.msgChecking); });
    var video;
    Promise.resolve().then(browserStep).then(screenStep).then(function () { return navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}}); })
      .then(function (v) { video = v; document.getElementById("check-video").srcObject = v; mark("check-camera", "ok", msg.msgOk); })
      .catch(function (e) {
        if (e !== "screen" && e !== "browser") { mark("check-camera", "failed", msg.msgCameraDenied); }
        throw "camera";
      })
      .then(function () { return navigator.mediaDevices.getUserMedia({audio: true}); })
      .catch(function (e) { if (e !== "camera") { mark("check-microphone", "failed", msg.msgMicDenied); } throw e; })
      .then(function (audio) {
        return micLevel(audio).then(function (peak) {
          if (peak !== null && peak < 2) { mark("check-microphone", "failed", msg.msgMicSilent); throw "mic"; }
          mark("check-microphone", "ok", peak === null ? msg.msgMicUnmeasured : msg.msgOk);
          return new MediaStream(video.getVideoTracks().concat(audio.getAudioTracks()));  // the screen follows
        });
      })
      .then(function (both) {
        return connection(both).then(function () {
          mark("check-connection", "ok", msg.msgOk);
          var res = document.getElementById("check-result");
          res.dataset.passed = "yes";
          res.textContent = msg.msgOk;
        }).catch(function (e) {  // the server's own words if it said why (all media servers full, say)
          mark("check-connection", "failed", (e && e.error && e.error.message) || (e && e.why) || msg.msgConnection);
        });
      })
      .catch(function () { /* the failing step shows its message */ });
  });
})();

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

  function micLevel(stream) {
    return new Promise(function (resolve) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { resolve(1); return; }
      var ctx = new Ctx();
      var analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(stream).connect(analyser);
      var data = new Uint8Array(analyser.fftSize);
      var peak = 0, n = 0;
      var t = setInterval(function () {
        analyser.getByteTimeDomainData(data);
        for (var i = 0; i < data.length; i++) { peak = Math.max(peak, Math.abs(data[i] - 128)); }
        if (++n >= 15) { clearInterval(t); ctx.close(); resolve(peak); }
      }, 100);
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
          var t = setInterval(function () {
            if (pc.connectionState === "failed") { clearInterval(t); rej(); return; }
            if (pc.connectionState !== "connected") { if (++tries > 40) { clearInterval(t); rej(); } return; }
            post("/api/exams/" + examId + "/system-check/confirm").then(function () {
              clearInterval(t); pc.close(); if (screenTrack) { screenTrack.stop(); } res();
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
    ["check-camera", "check-microphone", "check-connection"].forEach(function (id) { mark(id, "pending", msg.msgChecking); });
    var video;
    screenStep().then(function () { return navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}}); })
      .then(function (v) { video = v; document.getElementById("check-video").srcObject = v; mark("check-camera", "ok", msg.msgOk); })
      .catch(function (e) { if (e !== "screen") { mark("check-camera", "failed", msg.msgCameraDenied); } throw "camera"; })
      .then(function () { return navigator.mediaDevices.getUserMedia({audio: true}); })
      .catch(function (e) { if (e !== "camera") { mark("check-microphone", "failed", msg.msgMicDenied); } throw e; })
      .then(function (audio) {
        return micLevel(audio).then(function (peak) {
          if (peak < 2) { mark("check-microphone", "failed", msg.msgMicSilent); throw "mic"; }
          mark("check-microphone", "ok", msg.msgOk);
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
          mark("check-connection", "failed", (e && e.error && e.error.message) || msg.msgConnection);
        });
      })
      .catch(function () { /* the failing step shows its message */ });
  });
})();

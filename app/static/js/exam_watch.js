// Exam page, supervised exams: fullscreen asked for at the start and after leaving it (the leaving itself
// is reported by media.js), and a camera or microphone that stops mid-exam is reported as a flag and
// explained to the candidate with what to do. Kept apart from media.js, which owns the connection.
(function () {
  "use strict";
  var gate = document.getElementById("fullscreen-gate");
  var lost = document.getElementById("media-lost");
  if (!lost) { return; }

  // --- fullscreen (not asked in a platform assessment's supervision window, which has no #fullscreen-gate) -----
  var canFullscreen = gate && document.fullscreenEnabled && document.documentElement.requestFullscreen;
  function askFullscreen(text) {
    if (!canFullscreen) { return; }  // e.g. iPhone Safari: nothing to ask for
    document.getElementById("fullscreen-text").textContent = text;
    gate.hidden = false;
  }
  if (gate) {
    document.getElementById("enter-fullscreen").addEventListener("click", function () {
      document.documentElement.requestFullscreen().then(function () { gate.hidden = true; }, function () {
        gate.hidden = true;  // the browser refused (a policy): the exam goes on, the proctor sees no fullscreen
      });
    });
    document.addEventListener("fullscreenchange", function () {
      if (document.fullscreenElement) { gate.hidden = true; } else { askFullscreen(gate.dataset.msgLeft); }
    });
    if (!document.fullscreenElement) { askFullscreen(gate.dataset.msgStart); }
  }

  // --- camera and microphone lost ----------------------------------------------------------------------
  var watched = [];
  function report(kind) {
    var media = window.aufsicht.media;
    if (media) { media.send(kind + "_lost"); }
    document.getElementById("media-lost-text").textContent =
      kind === "camera" ? lost.dataset.msgCamera : lost.dataset.msgMicrophone;
    lost.hidden = false;
  }
  function watch(stream) {
    watched.forEach(function (w) { w.track.removeEventListener("ended", w.ended); });
    watched = stream.getTracks().map(function (track) {
      var kind = track.kind === "video" ? "camera" : "microphone";
      var mutedTimer = null;
      var w = {track: track, ended: function () { report(kind); }};
      track.addEventListener("ended", w.ended);
      // Muted for a few seconds (unplugged, taken by another program) counts as lost; a short glitch does not.
      track.addEventListener("mute", function () { mutedTimer = setTimeout(function () { report(kind); }, 4000); });
      track.addEventListener("unmute", function () { clearTimeout(mutedTimer); });
      return w;
    });
  }
  document.addEventListener("aufsicht:media-stream", function (ev) { watch(ev.detail); });
  if (window.aufsicht.media && document.getElementById("self-view").srcObject) {
    watch(document.getElementById("self-view").srcObject);
  }
  document.getElementById("media-retry").addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480, frameRate: 30}})
      .then(function (s) {
        window.aufsicht.media.useStream(s);
        window.aufsicht.media.send("media_back");
        lost.hidden = true;
      })
      .catch(function () { document.getElementById("media-lost-text").textContent = lost.dataset.msgFailed; });
  });
})();

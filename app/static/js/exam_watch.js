// Exam page, supervised exams: fullscreen asked for at the start and after leaving it (the leaving itself
// is reported by media.js), and a camera or microphone that stops mid-exam is reported as a flag and
// explained to the candidate with what to do. Kept apart from media.js, which owns the connection.
(function () {
  "use strict";
  var gate = document.getElementById("fullscreen-gate");
  var lost = document.getElementById("media-lost");
  if (!lost) { return; }

  // --- overlays are modal ------------------------------------------------------------------------------
  // While an overlay covers the exam, everything else on the page is inert: a keyboard user's Tab stays in the
  // overlay (never on a control hidden beneath it) and a screen reader reads only the overlay. Its button gets
  // focus; when the last overlay goes, focus returns to where it was (or to the start of the exam).
  var open = [], before = null;
  function modal(overlay, on) {
    var wasOpen = open.length > 0;
    open = open.filter(function (o) { return o !== overlay; });
    if (on) { open.push(overlay); }
    document.querySelectorAll("[data-overlay-inert]").forEach(function (el) {
      el.removeAttribute("inert"); el.removeAttribute("data-overlay-inert");
    });
    var top = open[open.length - 1];
    if (!top) {
      if (wasOpen) {
        var back = before && document.contains(before) && before !== document.body ? before : document.getElementById("main");
        if (back) { back.focus({preventScroll: true}); }
      }
      return;
    }
    if (!wasOpen) { before = document.activeElement; }
    for (var node = top; node && node !== document.body; node = node.parentNode) {
      Array.prototype.forEach.call(node.parentNode.children, function (sib) {
        if (sib !== node && sib.tagName !== "SCRIPT" && !sib.hasAttribute("inert")) {
          sib.setAttribute("inert", ""); sib.setAttribute("data-overlay-inert", "");
        }
      });
    }
    var button = top.querySelector("button");
    if (button) { button.focus(); }
  }
  function show(overlay, on) { overlay.hidden = !on; modal(overlay, on); }

  // --- fullscreen (not asked in a platform assessment's supervision window, which has no #fullscreen-gate) -----
  var canFullscreen = gate && document.fullscreenEnabled && document.documentElement.requestFullscreen;
  function askFullscreen(text) {
    if (!canFullscreen) { return; }  // e.g. iPhone Safari: nothing to ask for
    document.getElementById("fullscreen-text").textContent = text;
    show(gate, true);
  }
  if (gate) {
    document.getElementById("enter-fullscreen").addEventListener("click", function () {
      document.documentElement.requestFullscreen().then(function () { show(gate, false); }, function () {
        show(gate, false);  // the browser refused (a policy): the exam goes on, the proctor sees no fullscreen
      });
    });
    document.addEventListener("fullscreenchange", function () {
      if (document.fullscreenElement) { show(gate, false); } else { askFullscreen(gate.dataset.msgLeft); }
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
    show(lost, true);
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
        show(lost, false);
      })
      .catch(function () { document.getElementById("media-lost-text").textContent = lost.dataset.msgFailed; });
  });
})();

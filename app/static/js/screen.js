// The candidate's screen (exams that record it): only a whole monitor is accepted, never a window or a tab.
// askScreen() is used by the system check and the exam page. On the exam page (#screen-overlay) the exam is
// blocked by an overlay until the screen is shared, and again whenever sharing stops (the browser's "stop
// sharing" button ends the track); media.js sends the track to the media engine and the events to the proctor.
(function () {
  "use strict";
  window.aufsicht = window.aufsicht || {};

  // Resolves with a live video track of a whole monitor; rejects with {surface} for a window or tab, or with
  // the browser's error (refused, no support).
  function askScreen() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      return Promise.reject({unsupported: true});
    }
    return navigator.mediaDevices.getDisplayMedia({
      video: {displaySurface: "monitor", frameRate: {ideal: 2, max: 5}, width: {max: 1920}, height: {max: 1080}},
      audio: false, monitorTypeSurfaces: "include", selfBrowserSurface: "exclude", surfaceSwitching: "exclude"
    }).then(function (stream) {
      var track = stream.getVideoTracks()[0];
      var surface = track && track.getSettings().displaySurface;
      if (surface !== "monitor") {
        stream.getTracks().forEach(function (t) { t.stop(); });
        throw {surface: surface || "unknown"};
      }
      track.contentHint = "detail";  // text stays sharp; the encoder drops frames rather than resolution
      return track;
    });
  }

  // More than one screen, where the browser can tell: screen.isExtended, and the Window Management API when
  // the candidate has allowed it (never asked for here: a prompt of its own would only confuse).
  function moreScreens() {
    if (window.screen && window.screen.isExtended) { return Promise.resolve(true); }
    if (!navigator.permissions || !window.getScreenDetails) { return Promise.resolve(false); }
    return navigator.permissions.query({name: "window-management"}).then(function (p) {
      if (p.state !== "granted") { return false; }
      return window.getScreenDetails().then(function (d) { return d.screens.length > 1; });
    }).catch(function () { return false; });
  }

  window.aufsicht.askScreen = askScreen;
  window.aufsicht.moreScreens = moreScreens;

  var overlay = document.getElementById("screen-overlay");
  if (!overlay) { return; }
  var button = document.getElementById("screen-share");
  var said = document.getElementById("screen-said");
  var form = document.getElementById("exam-form");
  var share = {track: null, onTrack: null, send: null, ready: null};
  var resolveReady;
  share.ready = new Promise(function (resolve) { resolveReady = resolve; });
  window.aufsicht.screenShare = share;

  function tell(type, detail) { if (share.send) { share.send(type, detail); } }

  function block(text) {
    overlay.hidden = false;
    overlay.dataset.state = share.track ? "shared" : "stopped";
    said.textContent = text || "";
    if (form) { form.inert = true; }
    button.focus();
  }

  function unblock() {
    overlay.hidden = true;
    overlay.dataset.state = "shared";
    said.textContent = "";
    if (form) { form.inert = false; }
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    askScreen().then(function (track) {
      var first = share.track === null && !overlay.dataset.stoppedOnce;
      share.track = track;
      track.addEventListener("ended", function () {
        if (share.track !== track) { return; }
        share.track = null;
        overlay.dataset.stoppedOnce = "yes";
        tell("screen_stopped");
        block(overlay.dataset.msgStopped);
      });
      document.getElementById("screen-view").srcObject = new MediaStream([track]);
      if (share.onTrack) { share.onTrack(track); }
      resolveReady(track);
      tell(first ? "screen_shared" : "screen_resumed");
      unblock();
    }).catch(function (e) {
      if (e && e.surface) {
        tell("screen_refused", {surface: e.surface});
        block(overlay.dataset.msgNotMonitor);
      } else {
        block(e && e.unsupported ? overlay.dataset.msgUnsupported : overlay.dataset.msgDenied);
      }
    }).then(function () { button.disabled = false; });
  });
  block(overlay.dataset.msgStart);
})();

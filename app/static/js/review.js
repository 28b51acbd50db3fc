// The review player: every source (the camera; the candidate's screen where the exam records it) is a list of
// parts on one wall clock, so a jump to a time seeks each source's part that covers it, the speed applies to
// all, and the screen follows the camera while it plays.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }

  function parts(source) {
    return Array.prototype.slice.call(player.querySelectorAll('video.playback[data-source="' + source + '"]'));
  }
  function sources() {
    var seen = [];
    player.querySelectorAll("video.playback").forEach(function (v) {
      if (seen.indexOf(v.dataset.source) < 0) { seen.push(v.dataset.source); }
    });
    return seen;
  }
  function started(v) { return Date.parse(v.dataset.started); }
  function duration(v) {
    if (v.dataset.duration) { return Number(v.dataset.duration); }
    return isFinite(v.duration) ? v.duration * 1000 : Infinity;
  }
  // The part of one source that covers wall time ``at`` (ms), or the last that began before it.
  function covering(source, at) {
    var best = null;
    parts(source).forEach(function (v) {
      if (started(v) <= at && (!best || started(v) > started(best))) { best = v; }
    });
    if (best && at - started(best) > duration(best)) { return null; }
    return best;
  }
  function rate() { var s = document.getElementById("speed"); return s ? Number(s.value) : 1; }

  // Seek every source to wall time ``at``; the video shows the frame there (paused: the reviewer plays on).
  function seekTo(at) {
    var found = false;
    sources().forEach(function (source) {
      var v = covering(source, at);
      if (!v) { return; }
      found = true;
      var target = Math.max(0, (at - started(v)) / 1000);
      var go = function () {
        v.pause();
        v.playbackRate = rate();
        v.currentTime = target;
        v.dataset.target = String(target);
      };
      if (v.readyState >= 1) { go(); } else { v.addEventListener("loadedmetadata", go, {once: true}); v.load(); }
      v.scrollIntoView({block: "nearest"});
    });
    player.dataset.jumped = found ? "yes" : "none";
    var state = document.getElementById("jump-state");
    if (state) { state.textContent = found ? "" : state.dataset.none; }
  }
  window.aufsichtReview = {seekTo: seekTo};

  document.querySelectorAll("button.jump").forEach(function (b) {
    b.addEventListener("click", function () { seekTo(Date.parse(b.dataset.at)); });
  });
  var speed = document.getElementById("speed");
  if (speed) {
    speed.addEventListener("change", function () {
      player.querySelectorAll("video.playback").forEach(function (v) { v.playbackRate = rate(); });
    });
  }
  var back = document.getElementById("back-10");
  if (back) {
    back.addEventListener("click", function () {
      player.querySelectorAll("video.playback").forEach(function (v) {
        if (!v.paused || v.currentTime > 0) { v.currentTime = Math.max(0, v.currentTime - 10); }
      });
    });
  }
  var clock = document.getElementById("player-clock");
  var format = new Intl.DateTimeFormat(document.documentElement.lang || "de",
    {hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: player.dataset.tz || "Europe/Berlin"});
  player.querySelectorAll("video.playback").forEach(function (v) {
    v.addEventListener("play", function () { v.playbackRate = rate(); });
    v.addEventListener("timeupdate", function () {
      if (clock) { clock.textContent = format.format(new Date(started(v) + v.currentTime * 1000)); }
    });
  });

  // The other sources (the screen) follow the camera: the part covering the camera's wall time plays, pauses
  // and seeks with it, and is pulled back when it drifts more than half a second; the others pause.
  function follow(lead, playing) {
    var at = started(lead) + lead.currentTime * 1000;
    sources().forEach(function (source) {
      if (source === "camera") { return; }
      var mine = covering(source, at);
      parts(source).forEach(function (v) {
        if (v !== mine) { if (!v.paused) { v.pause(); } return; }
        var target = Math.max(0, (at - started(v)) / 1000);
        var sync = function () {
          if (Math.abs(v.currentTime - target) > 0.5 || !playing) { v.currentTime = target; }
          v.playbackRate = lead.playbackRate;
          if (playing && v.paused) { v.play().catch(function () { /* the reviewer pressed pause meanwhile */ }); }
          if (!playing && !v.paused) { v.pause(); }
        };
        if (v.readyState >= 1) { sync(); } else { v.addEventListener("loadedmetadata", sync, {once: true}); v.load(); }
      });
    });
  }
  parts("camera").forEach(function (lead) {
    lead.addEventListener("play", function () { follow(lead, true); });
    lead.addEventListener("pause", function () { follow(lead, false); });
    lead.addEventListener("seeked", function () { follow(lead, !lead.paused); });
    lead.addEventListener("ratechange", function () { follow(lead, !lead.paused); });
    lead.addEventListener("timeupdate", function () { if (!lead.paused) { follow(lead, true); } });
  });
})();

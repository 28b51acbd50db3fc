// The grader's page: a spoken answer's button seeks the review player (review.js) to the answer's span; playing on
// from there, the player stops at the span's end so the grader hears exactly the answer.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var until = null;
  document.querySelectorAll("button.spoken-jump").forEach(function (b) {
    b.addEventListener("click", function () { until = Date.parse(b.dataset.until); });
  });
  player.querySelectorAll("video.playback").forEach(function (v) {
    v.addEventListener("timeupdate", function () {
      if (until !== null && !v.paused && Date.parse(v.dataset.started) + v.currentTime * 1000 >= until) {
        v.pause();
        until = null;
      }
    });
  });
})();

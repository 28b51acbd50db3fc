// Items' limited audio and video: each press of the play button asks the server for one play (it counts them
// and refuses once all are used); the answer's URL streams that play only. The counter is a live region, so a
// screen reader hears how many plays are left. When a play ends the page drops its copy of the file.
(function () {
  "use strict";

  function setup(figure) {
    var media = figure.querySelector(".limited-media");
    var button = figure.querySelector(".play-limited");
    var counter = figure.querySelector(".plays-left");
    if (!media || !button || !counter || !media.dataset.grant) { return; }
    var label = button.textContent;

    function say(text) { counter.textContent = text; }
    function left(n, total) {
      return counter.dataset.msgLeft.replace("{left}", String(n)).replace("{total}", String(total));
    }
    function drop() {
      media.removeAttribute("src");
      media.load();
    }

    media.addEventListener("ended", function () {
      drop();
      button.textContent = label;
      button.disabled = figure.dataset.left === "0";
    });

    button.addEventListener("click", function () {
      button.disabled = true;
      window.aufsicht.postJson(media.dataset.grant, {}).then(function (res) {
        if (!res.ok) {
          figure.dataset.left = "0";
          say(window.aufsicht.message(res));
          return;
        }
        figure.dataset.left = String(res.body.left);
        say(left(res.body.left, res.body.plays));
        button.textContent = button.dataset.msgPlaying;
        media.src = res.body.url;
        var started = media.play();
        if (started && started.catch) {
          started.catch(function () { button.textContent = label; button.disabled = res.body.left === 0; });
        }
      }, function () {
        button.disabled = false;
      });
    });
  }

  document.querySelectorAll("figure.stimulus").forEach(setup);
}());

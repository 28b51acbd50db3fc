// Spoken answers on the exam page (exams/spoken.py): the server starts a take and sets its span by its own clock;
// this page only counts down (preparation, then the recorded answer), shows a recording indicator and says each
// change in the live region. The microphone is the exam's own stream (media.js), already recorded: no upload.
(function () {
  "use strict";
  function fill(text, values) {
    Object.keys(values).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }

  function setup(box) {
    var d = box.dataset;
    if (!d.url) { return; }
    var button = box.querySelector(".spoken-start");
    var clock = box.querySelector(".spoken-clock");
    var rec = box.querySelector(".spoken-recording");
    var done = box.querySelector(".spoken-done");
    var said = box.querySelector(".spoken-said");
    var error = box.querySelector(".spoken-error");
    var answerAt = null, endAt = null, timer = null, busy = false;

    function phase(p) {
      if (d.phase === p) { return; }
      d.phase = p;
      if (p === "preparing") { said.textContent = d.msgSaidPrep; }
      if (p === "recording") { said.textContent = d.msgSaidRecording; }
      if (p === "done") { said.textContent = d.msgSaidDone; }
    }
    function tick() {
      var now = Date.now();
      if (endAt === null) { return; }
      if (now < answerAt) {
        phase("preparing");
        clock.textContent = fill(d.msgPrep, {s: Math.ceil((answerAt - now) / 1000)});
      } else if (now < endAt) {
        phase("recording");
        clock.textContent = fill(d.msgRecording, {s: Math.ceil((endAt - now) / 1000)});
      } else {
        clearInterval(timer); timer = null;
        endAt = null;
        load();  // the server says whether another take is allowed
        return;
      }
      rec.hidden = d.phase !== "recording";
    }
    function show(s) {
      error.textContent = "";
      d.take = String(s.take);
      var hadFocus = document.activeElement === button;
      button.hidden = !s.can_start;
      if (hadFocus && button.hidden) { box.focus(); }  // the pressed button goes: focus stays with the item
      button.textContent = s.take > 0 ? d.msgRetry : d.msgStart;
      done.hidden = s.phase !== "done";
      if (s.phase === "preparing" || s.phase === "recording") {
        var now = Date.now();
        answerAt = now + s.seconds_to_answer * 1000;
        endAt = now + s.seconds_left * 1000;
        if (!timer) { timer = setInterval(tick, 250); }
        tick();
      } else {
        rec.hidden = true;
        clock.textContent = "";
        phase(s.phase);
      }
    }
    function load() {
      window.aufsicht.send(d.url).then(window.aufsicht.answer).then(function (r) { if (r.ok) { show(r.body); } });
    }
    button.addEventListener("click", function () {
      if (busy) { return; }
      busy = true;
      window.aufsicht.postJson(d.url, {action: "start"}).then(function (r) {
        busy = false;
        if (r.ok) { show(r.body); return; }
        error.textContent = window.aufsicht.message(r);
        load();
      }, function () { busy = false; });
    });
    load();
  }
  document.querySelectorAll(".spoken[data-question]").forEach(setup);
})();

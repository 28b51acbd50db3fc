// The room scan on the exam page (issue 29): before the start, and whenever the supervision asks (its request comes
// with the page's notices, see exam.js). The server keeps the state and the time limits; this page shows the step,
// counts down, and says each step in the live region. The webcam is the exam's own (media.js), already recorded.
(function () {
  "use strict";
  var box = document.getElementById("room-scan");
  if (!box) { return; }
  var d = box.dataset;
  var view = document.getElementById("room-scan-view");
  var live = document.getElementById("room-scan-live");
  var timer = document.getElementById("room-scan-timer");
  var begin = document.getElementById("room-scan-begin");
  var next = document.getElementById("room-scan-next");
  var error = document.getElementById("room-scan-error");
  var progress = document.getElementById("room-scan-progress");
  var count = document.getElementById("room-scan-count");
  var items = box.querySelectorAll("#room-scan-steps li");
  var state = null, stepLeft = null, totalLeft = null, waitLeft = 0, tickTimer = null, busy = false, expired = false;

  function fill(text, values) {
    Object.keys(values).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }
  function camera() {
    var self = document.getElementById("self-view");
    if (self && self.srcObject && view.srcObject !== self.srcObject) { view.srcObject = self.srcObject; }
  }
  document.addEventListener("aufsicht:media-stream", function (ev) { view.srcObject = ev.detail; });

  function open(focus) {
    var wasHidden = box.hidden;
    box.hidden = false;
    camera();
    if (wasHidden && focus) { focus.focus(); }
  }
  function close() {
    box.hidden = true;
    box.dataset.state = "done";
    clearInterval(tickTimer); tickTimer = null;
  }

  function show(s) {
    state = s;
    error.textContent = "";
    var total = s.steps.length;
    progress.max = total;
    progress.value = s.running ? s.step : 0;
    if (!s.running && !s.due) {  // nothing to do (or just completed)
      if (box.dataset.state === "running") {
        live.textContent = d.msgDone;
        box.dataset.state = "done";
        if (s.required && box.dataset.before === "yes") { reveal(); }
        setTimeout(close, 1500);
      } else if (!box.hidden && box.dataset.state !== "done") { close(); }
      return;
    }
    document.getElementById("room-scan-why").textContent = s.due === "requested" ? d.msgRequested : d.msgBefore;
    box.dataset.before = s.due === "before_start" ? "yes" : "no";
    items.forEach(function (li, i) {
      li.dataset.state = !s.running ? "todo" : i < s.step ? "done" : i === s.step ? "current" : "todo";
      if (li.dataset.state === "current") { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
    });
    if (!s.running) {
      box.dataset.state = "ready";
      count.textContent = fill(d.msgStep, {n: 0, total: total});
      begin.hidden = false; next.hidden = true;
      timer.textContent = "";
      clearInterval(tickTimer); tickTimer = null;
      if (expired) { live.textContent = d.msgTimeout; }
      open(begin);
      return;
    }
    expired = false;
    box.dataset.state = "running";
    begin.hidden = true; next.hidden = false;
    var key = s.steps[s.step].key;
    var li = box.querySelector('#room-scan-steps li[data-step="' + key + '"]');
    count.textContent = fill(d.msgStep, {n: s.step + 1, total: total});
    // The live region says the step and what to show, as the page shows it.
    live.textContent = count.textContent + ": " + (li ? li.textContent.trim() : "");
    next.textContent = s.step + 1 === total ? d.msgFinish : d.msgNext;
    stepLeft = s.step_seconds_left; totalLeft = s.seconds_left; waitLeft = s.min_step_seconds;
    // aria-disabled, not disabled: the button keeps the keyboard's focus while the step is shown
    next.setAttribute("aria-disabled", "true");
    open(next);
    next.focus();
    clearInterval(tickTimer);
    tickTimer = setInterval(tick, 1000);
    tick(true);
  }

  function tick(first) {
    if (!first) { stepLeft = Math.max(0, stepLeft - 1); totalLeft = Math.max(0, totalLeft - 1); waitLeft = Math.max(0, waitLeft - 1); }
    timer.textContent = fill(d.msgStepLeft, {s: stepLeft}) + " · " + fill(d.msgTotalLeft, {s: totalLeft});
    next.setAttribute("aria-disabled", waitLeft > 0 || busy ? "true" : "false");
    next.dataset.wait = String(waitLeft);
    if (waitLeft > 0) { next.textContent = fill(d.msgWait, {s: waitLeft}); } else {
      next.textContent = state.step + 1 === state.steps.length ? d.msgFinish : d.msgNext;
    }
    if (stepLeft === 0 || totalLeft === 0) {  // the server ends it (and tells the supervision); ask where we stand
      clearInterval(tickTimer); tickTimer = null;
      expired = true;
      setTimeout(refresh, 6000);
    }
  }

  // Before the start the server sent no questions: fetch them now into the form (not a reload: that would end
  // fullscreen, which is flagged). exam.js listens on the form, so the new fields autosave like the others.
  function reveal() {
    fetch(window.location.href, {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var form = document.getElementById("exam-form"), submit = document.getElementById("submit");
        var fields = page.querySelectorAll("#exam-form fieldset.question");
        if (!fields.length) { window.location.reload(); return; }
        fields.forEach(function (fs) { form.insertBefore(document.importNode(fs, true), submit); });
        var gate = document.getElementById("attempt-gate");
        if (gate) { gate.remove(); }
      });
  }

  function post(body) {
    busy = true;
    return window.aufsicht.postJson(d.api, body).then(function (r) {
      busy = false;
      if (r.ok) { show(r.body); return; }
      error.textContent = window.aufsicht.message(r);
      if (r.status === 409) { refresh(); }
    }, function () { busy = false; error.textContent = "⚠"; });
  }
  begin.addEventListener("click", function () { post({action: "begin"}); });
  next.addEventListener("click", function () {
    if (!state || !state.running || busy || next.getAttribute("aria-disabled") === "true") { return; }
    post({step: state.steps[state.step].key});
  });

  function refresh() {
    return fetch(d.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        if (s.running && state && state.running && s.step === state.step && tickTimer) { return; }
        show(s);
      })
      .catch(function () {});
  }
  // The fullscreen request (exam_watch.js) sits above the scan at the start: once it is answered, the keyboard's
  // focus comes back to the scan's button.
  document.addEventListener("fullscreenchange", function () {
    if (box.hidden) { return; }
    setTimeout(function () { (begin.hidden ? next : begin).focus(); }, 0);
  });
  // The supervision's request arrives with the notices the exam page polls (exam.js).
  document.addEventListener("aufsicht:notice", function (ev) {
    if (ev.detail && ev.detail.kind === "room_scan_requested") { refresh(); }
  });
  refresh();
})();

// Identity check: upload the ID photo, capture selfie frames while the candidate follows a
// random head-turn challenge, then poll the status. Or, for the check by a proctor, connect the camera
// to our media engine for the proctor's live view and wait for the decision. All text comes from data
// attributes.
(function () {
  "use strict";
  var manual = document.getElementById("manual");
  if (manual) { checkByProctor(manual); }
  var root = document.getElementById("idcheck");
  if (!root) { return; }
  var examId = root.dataset.exam;
  var statusEl = document.getElementById("idcheck-status");
  var msg = root.dataset;

  function post(url, body) {
    return window.aufsicht.send(url, {method: "POST", body: body}).then(window.aufsicht.answer);
  }

  function show(state) {
    var s = state.status;
    statusEl.dataset.status = s || "";
    if (s === "processing") { statusEl.textContent = msg.msgProcessing; setTimeout(poll, 1500); }
    else if (s === "verified") { statusEl.textContent = msg.msgVerified; }
    else if (s === "review") { statusEl.textContent = msg.msgReview; }
    else if (s === "rejected") { statusEl.textContent = msg.msgRejected + " " + (state.decision_reason || ""); }
    else if (s === "retake") {
      statusEl.textContent = msg.msgRetake + " " + (state.reason || "") + " · " + msg.msgRetakes + " " + state.retakes_left;
    }
    else { statusEl.textContent = ""; }
  }

  function poll() {
    // An error answer (503 while the database restarts) is no status: ask again, as when offline.
    fetch(root.dataset.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(show).catch(function () { setTimeout(poll, 3000); });
  }

  function error(body) {
    statusEl.dataset.status = "error";
    statusEl.textContent = body.error ? body.error.message : "Error";
  }

  document.getElementById("doc-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("doc-file");
    if (!input.files.length) { return; }
    var fd = new FormData();
    fd.append("file", input.files[0]);
    var back = document.getElementById("doc-back");
    if (back.files.length) { fd.append("back", back.files[0]); }
    fd.append("mrz", document.getElementById("doc-mrz").value);
    post("/api/identity/" + examId + "/document", fd).then(function (r) {
      if (r.ok) { document.getElementById("doc-state").textContent = "✓"; show(r.body); } else { error(r.body); }
    });
  });

  var video = document.getElementById("selfie-video");
  var prompt = document.getElementById("challenge");
  document.getElementById("selfie-start").addEventListener("click", function () {
    if (!navigator.mediaDevices) { prompt.textContent = msg.msgNocam; return; }
    navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false}).then(function (stream) {
      video.srcObject = stream;
      return post("/api/identity/" + examId + "/challenge", new FormData()).then(function (r) {
        return capture(stream, ["straight"].concat(r.body.challenge));
      });
    }).catch(function () { prompt.textContent = msg.msgNocam; });
  });

  function grab() {
    var c = document.createElement("canvas");
    c.width = video.videoWidth || 640; c.height = video.videoHeight || 480;
    c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
    return new Promise(function (resolve) { c.toBlob(resolve, "image/jpeg", 0.9); });
  }

  function capture(stream, steps) {
    var frames = [];
    var chain = Promise.resolve();
    steps.forEach(function (step) {
      chain = chain.then(function () {
        var words = {left: msg.msgLeft, right: msg.msgRight, up: msg.msgUp, down: msg.msgDown};
        prompt.textContent = words[step] || msg.msgStraight;
        prompt.dataset.step = step;
        return new Promise(function (res) { setTimeout(res, 1200); });
      }).then(function () {
        return Promise.all([grab(), new Promise(function (r) { setTimeout(r, 300); }).then(grab)]);
      }).then(function (blobs) { frames = frames.concat(blobs); });
    });
    return chain.then(function () {
      stream.getTracks().forEach(function (t) { t.stop(); });
      prompt.textContent = "";
      var fd = new FormData();
      frames.forEach(function (b, i) { fd.append("frames", b, "frame" + i + ".jpg"); });
      return post("/api/identity/" + examId + "/selfie", fd);
    }).then(function (r) { if (r.ok) { show(r.body); } else { error(r.body); } });
  }

  poll();

  function checkByProctor(box) {
    var m = box.dataset;
    var statusEl = document.getElementById("idcheck-status");
    var state = document.getElementById("manual-state");
    var pc = null;

    function mark(key, text) { state.dataset.state = key; state.textContent = text; }

    function waitForDecision() {
      fetch(m.api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) {
          statusEl.dataset.status = body.status || "";
          if (body.status === "verified") {
            statusEl.textContent = m.msgVerified;
            document.getElementById("manual-continue").hidden = false;
            if (pc) { pc.close(); }
          } else if (body.status === "rejected") {
            statusEl.textContent = m.msgRejected + " " + (body.decision_reason || "");
            if (pc) { pc.close(); }
          } else { setTimeout(waitForDecision, 1500); }
        })
        .catch(function () { setTimeout(waitForDecision, 3000); });
    }

    document.getElementById("manual-connect").addEventListener("click", function () {
      mark("connecting", m.msgConnecting);
      navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true})
        .catch(function () { mark("failed", m.msgNocam); throw null; })
        .then(function (stream) {
          document.getElementById("manual-video").srcObject = stream;
          if (pc) { pc.close(); }
          pc = new RTCPeerConnection({iceServers: JSON.parse(m.ice || "[]")});
          stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
          pc.onconnectionstatechange = function () {
            if (pc.connectionState === "connected") { mark("connected", m.msgConnected); }
            else if (pc.connectionState === "failed") { mark("failed", m.msgFailed); }
          };
          return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); });
        })
        .then(function () {
          return new Promise(function (res) {
            if (pc.iceGatheringState === "complete") { res(); return; }
            pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { res(); } });
            setTimeout(res, 5000);
          });
        })
        .then(function () { return window.aufsicht.postJson(m.offer, {sdp: pc.localDescription.sdp}); })
        .then(function (r) {
          if (!r.ok || !r.body.sdp) { mark("failed", window.aufsicht.message(r, m.msgFailed)); return; }
          return pc.setRemoteDescription(r.body);
        })
        .catch(function (e) { if (e !== null) { mark("failed", m.msgFailed); } });
    });
    waitForDecision();
  }
})();

// The phone as the second camera: its camera (never its microphone) to our media engine over WebRTC. Keeps the
// screen on (Screen Wake Lock API where the browser has it), reconnects after a network change, moves into the
// attempt's recording when the exam starts (the server says so at /phone/state), and stops for good when the
// server refuses it (another phone took over, the attempt ended).
(function () {
  "use strict";
  var root = document.getElementById("phone");
  if (!root) { return; }
  var statusEl = document.getElementById("phone-status");
  var awakeEl = document.getElementById("phone-awake");
  var iceServers = JSON.parse(root.dataset.ice || "[]");
  var stream = null, pc = null, channel = null, backoff = 1000, done = false, wake = null, timer = null;
  var session = root.dataset.session, state = "waiting";

  function setState(s, text) { statusEl.dataset.state = s; statusEl.textContent = text; root.dataset.state = s; }

  // Over the data channel where the plane reads it and it is open, else over HTTP (Janus; a closed channel),
  // tried again while offline.
  function send(type) {
    if (root.dataset.eventsChannel !== "no" && channel && channel.readyState === "open") {
      channel.send(JSON.stringify({type: type, at: new Date().toISOString()}));
      return;
    }
    window.aufsicht.postJson(root.dataset.eventsUrl, {type: type, at: new Date().toISOString()}).then(function (r) {
      if (r.status === 429 || r.status >= 500) { setTimeout(function () { send(type); }, 5000); }
    }, function () { setTimeout(function () { send(type); }, 5000); });
  }

  // The screen stays on while the page is visible; a lock the browser released (the page was hidden) is taken
  // again when it is visible once more.
  function keepAwake() {
    if (!("wakeLock" in navigator)) {
      awakeEl.dataset.wakeLock = "unsupported"; awakeEl.textContent = root.dataset.msgNoAwake; return;
    }
    navigator.wakeLock.request("screen").then(function (lock) {
      wake = lock;
      awakeEl.dataset.wakeLock = "held"; awakeEl.textContent = root.dataset.msgAwake;
      lock.addEventListener("release", function () { awakeEl.dataset.wakeLock = "released"; });
    }, function () { awakeEl.dataset.wakeLock = "refused"; awakeEl.textContent = root.dataset.msgNoAwake; });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !done && (!wake || wake.released)) { keepAwake(); }
  });

  function waitIce(conn) {
    if (conn.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      conn.addEventListener("icegatheringstatechange", function () {
        if (conn.iceGatheringState === "complete") { resolve(); }
      });
      setTimeout(resolve, 5000);
    });
  }

  function refused(body) {
    done = true;
    clearInterval(timer);
    if (pc) { try { pc.close(); } catch (e) { /* closed */ } pc = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    if (wake) { wake.release().catch(function () { /* released */ }); }
    setState("refused", (body && body.error && body.error.message) || root.dataset.msgStopped);
  }

  function connect() {
    if (done) { return; }
    setState("connecting", root.dataset.msgConnecting);
    var conn = new RTCPeerConnection({iceServers: iceServers});
    pc = conn;
    stream.getVideoTracks().forEach(function (t) { conn.addTrack(t, stream); });
    // No microphone: an audio section that sends nothing (the engine then records the video alone).
    conn.addTransceiver("audio", {direction: "inactive"});
    channel = conn.createDataChannel("events");
    var wasConnected = false;
    conn.onconnectionstatechange = function () {
      if (conn !== pc) { return; }
      if (conn.connectionState === "connected") {
        backoff = 1000; wasConnected = true;
        setState("connected", state === "exam" ? root.dataset.msgExam : root.dataset.msgWaiting);
      } else if (conn.connectionState === "failed") {
        window.aufsicht.whyFailed(conn, wasConnected).then(function (why) {
          if (conn === pc) { retry(why + " – " + root.dataset.msgReconnecting); }
        });
      } else if (conn.connectionState === "disconnected") {
        retry();
      }
    };
    conn.createOffer().then(function (offer) { return conn.setLocalDescription(offer); })
      .then(function () { return waitIce(conn); })
      .then(function () {
        return window.aufsicht.postJson(root.dataset.offerUrl, {type: "offer", sdp: conn.localDescription.sdp});
      })
      .then(function (r) {
        if (r.status === 410) { refused(r.body); throw {stop: true}; }
        if (r.body && r.body.error && r.body.error.code === "unsupported_codec") {  // this browser will not do
          refused(r.body); throw {stop: true};
        }
        if (!r.ok) { throw {userMessage: window.aufsicht.message(r, root.dataset.msgReconnecting)}; }
        return conn.setRemoteDescription(r.body);
      })
      .catch(function (e) { if (!(e && e.stop)) { retry(e && e.userMessage); } });
  }

  function retry(text) {
    if (done) { return; }
    setState("reconnecting", typeof text === "string" && text ? text : root.dataset.msgReconnecting);
    if (pc) { try { pc.close(); } catch (e) { /* closed */ } pc = null; }
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  // A new network (Wi-Fi to mobile data, back online): the old connection's addresses are gone; start afresh
  // at once instead of waiting for ICE to notice.
  function networkChanged() {
    if (done || !stream) { return; }
    backoff = 1000;
    retry();
  }
  window.addEventListener("online", networkChanged);
  if (navigator.connection && navigator.connection.addEventListener) {
    navigator.connection.addEventListener("change", networkChanged);
  }

  // The server decides where the stream goes: before the start nowhere, once the attempt runs into its recording.
  function poll() {
    fetch(root.dataset.stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(window.aufsicht.answer)
      .then(function (r) {
        if (r.status === 410) { refused(r.body); return; }
        if (!r.ok) { return; }
        state = r.body.state;
        if (r.body.session !== session) { session = r.body.session; backoff = 1000; retry(); }
        else if (pc && pc.connectionState === "connected") {
          setState("connected", state === "exam" ? root.dataset.msgExam : root.dataset.msgWaiting);
        }
      }, function () { /* offline: the next poll asks again */ });
  }

  window.aufsichtPhone = {stop: function () { stream.getVideoTracks().forEach(function (t) { t.stop(); t.dispatchEvent(new Event("ended")); }); }};

  navigator.mediaDevices.getUserMedia({audio: false, video: {facingMode: "environment", width: {ideal: 1280},
                                                              height: {ideal: 720}, frameRate: {ideal: 30}}})
    .then(function (s) {
      stream = s;
      document.getElementById("phone-view").srcObject = s;
      s.getVideoTracks().forEach(function (t) {
        t.addEventListener("ended", function () {
          if (done) { return; }
          send("camera_lost");
          setState("stopped", root.dataset.msgStopped);
        });
      });
      keepAwake();
      connect();
      timer = setInterval(poll, 3000);
    }, function () { setState("denied", root.dataset.msgDenied); });
})();

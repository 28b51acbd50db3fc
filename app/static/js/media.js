// Supervision: camera and microphone to our media engine over WebRTC for the whole attempt.
// Reconnects by itself; reports tab/fullscreen/copy events over a data channel.
(function () {
  "use strict";
  var root = document.getElementById("media");
  if (!root) { return; }
  var statusEl = document.getElementById("media-status");
  var iceServers = JSON.parse(root.dataset.ice || "[]");
  var stream = null, pc = null, channel = null, backoff = 1000, closing = false;
  var pendingEvents = [];

  function setState(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function send(type) {
    var msg = JSON.stringify({type: type, at: new Date().toISOString()});
    if (channel && channel.readyState === "open") { channel.send(msg); } else { pendingEvents.push(msg); }
  }

  function waitIce(conn) {
    if (conn.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      var done = function () { if (conn.iceGatheringState === "complete") { resolve(); } };
      conn.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 5000);
    });
  }

  function connect() {
    if (closing) { return; }
    setState("connecting", root.dataset.msgConnecting);
    var conn = new RTCPeerConnection({iceServers: iceServers});
    pc = conn;
    stream.getTracks().forEach(function (t) { conn.addTrack(t, stream); });
    channel = conn.createDataChannel("events");
    channel.onopen = function () { while (pendingEvents.length) { channel.send(pendingEvents.shift()); } };
    conn.onconnectionstatechange = function () {
      if (conn !== pc) { return; }
      if (conn.connectionState === "connected") {
        backoff = 1000;
        setState("connected", root.dataset.msgConnected);
      } else if (conn.connectionState === "failed" || conn.connectionState === "disconnected") {
        retry();
      }
    };
    conn.createOffer().then(function (offer) { return conn.setLocalDescription(offer); })
      .then(function () { return waitIce(conn); })
      .then(function () {
        return window.aufsicht.postJson(root.dataset.offerUrl, {type: "offer", sdp: conn.localDescription.sdp});
      })
      .then(function (r) {
        if (!r.ok) { throw {userMessage: window.aufsicht.message(r, root.dataset.msgReconnecting)}; }
        return conn.setRemoteDescription(r.body);
      })
      .catch(function (e) { retry(e && e.userMessage); });
  }

  // Try again with a growing pause; ``text``: why (the server's words, such as all media servers busy).
  function retry(text) {
    if (closing) { return; }
    setState("reconnecting", typeof text === "string" && text ? text : root.dataset.msgReconnecting);
    if (pc) { try { pc.close(); } catch (e) { /* already closed */ } pc = null; }
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  document.addEventListener("visibilitychange", function () { send(document.hidden ? "tab_hidden" : "tab_visible"); });
  document.addEventListener("fullscreenchange", function () { if (!document.fullscreenElement) { send("fullscreen_exit"); } });
  document.addEventListener("copy", function () { send("copy"); });
  document.addEventListener("paste", function () { send("paste"); });
  if (window.screen && window.screen.isExtended) { send("second_screen"); }
  window.addEventListener("beforeunload", function () { closing = true; });

  navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480, frameRate: 30}})
    .then(function (s) {
      stream = s;
      document.getElementById("self-view").srcObject = s;
      connect();
    })
    .catch(function () { setState("denied", root.dataset.msgDenied); });
})();

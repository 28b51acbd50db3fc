// Supervision: camera and microphone to our media engine over WebRTC for the whole attempt.
// Reconnects by itself; reports tab/fullscreen/copy events over a data channel, or over HTTP where the media
// plane does not read it (Janus) and while the channel is closed.
(function () {
  "use strict";
  var root = document.getElementById("media");
  if (!root) { return; }
  var statusEl = document.getElementById("media-status");
  var iceServers = JSON.parse(root.dataset.ice || "[]");
  var stream = null, pc = null, channel = null, backoff = 1000, closing = false;
  // The page's events, in order, until they left: over the data channel where the plane reads it (the page's
  // data-events-channel), else over HTTP (Janus; or while the channel is closed). Kept while offline and sent
  // once back, in order; the server stamps its own time of arrival (``at`` is the page's clock, for reading only).
  var outbox = [], posting = false, postBackoff = 1000, postTimer = null;
  var overChannel = root.dataset.eventsChannel !== "no";
  var eventsUrl = root.dataset.eventsUrl;
  // Exams that record the screen: screen.js holds the shared monitor; it goes as a second video track.
  var share = root.dataset.screen === "yes" ? window.aufsicht.screenShare : null;
  var screenSender = null;

  function setState(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function send(type, detail) {
    outbox.push(Object.assign({}, detail || {}, {type: type, at: new Date().toISOString()}));
    flush();
  }

  function flush() {
    if (posting || !outbox.length) { return; }
    if (overChannel && channel && channel.readyState === "open") {
      while (outbox.length) { channel.send(JSON.stringify(outbox.shift())); }
      return;
    }
    if (!eventsUrl) { return; }  // no endpoint on this page: kept for the channel
    posting = true;
    var batch = outbox.slice(0, 20);
    window.aufsicht.postJson(eventsUrl, {events: batch}).then(function (r) {
      posting = false;
      // Refused for good (the attempt ended, an event this server does not know): nothing to send again.
      if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 408 && r.status !== 429)) {
        outbox.splice(0, batch.length);
        postBackoff = 1000;
        flush();
      } else { later(); }
    }, function () { posting = false; later(); });  // offline: again when back, or after a pause
  }

  function later() {
    if (postTimer) { return; }
    postTimer = setTimeout(function () { postTimer = null; flush(); }, postBackoff);
    postBackoff = Math.min(postBackoff * 2, 30000);
  }
  window.addEventListener("online", function () { postBackoff = 1000; flush(); });

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
    if (share) {  // after the camera: the engine takes the second video track for the screen
      screenSender = conn.addTransceiver(share.track || "video", {direction: "sendonly"}).sender;
    }
    // The examiner of an oral exam, or a proctor who opens a call: their camera and microphone come back here.
    var examinerView = document.getElementById("examiner-view");
    if (examinerView) {
      var examiner = new MediaStream();
      examinerView.srcObject = examiner;
      conn.ontrack = function (ev) { examiner.addTrack(ev.track); };
    }
    channel = conn.createDataChannel("events");
    channel.onopen = function () { flush(); };
    var wasConnected = false;
    conn.onconnectionstatechange = function () {
      if (conn !== pc) { return; }
      if (conn.connectionState === "connected") {
        backoff = 1000;
        wasConnected = true;
        setState("connected", root.dataset.msgConnected);
        askCallerSoon(0);
      } else if (conn.connectionState === "failed") {  // say why while trying again
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
        if (!r.ok) { throw {userMessage: window.aufsicht.message(r, root.dataset.msgReconnecting)}; }
        return conn.setRemoteDescription(r.body);
      })
      .catch(function (e) { retry(e && e.userMessage); });
  }

  // The caller (an oral exam's examiner, a proctor who calls) on a connection of its own, where the media plane
  // sends a call that way (Janus: the server offers, this page answers); on aiortc the call comes on the camera's
  // own connection (the server says ``receive: false`` once, and nothing more is asked).
  var receiveUrl = (root.dataset.offerUrl || "").replace(/\/offer$/, "/receive");
  var receiver = null, receiveTimer = null, callOnOwn = false;
  var examinerBox = document.getElementById("examiner");
  // An oral exam's examiner may join at any time; a proctor's call is announced (the notice call_started).
  var callExpected = !!(examinerBox && !examinerBox.classList.contains("proctor-call"));
  function askCallerSoon(ms) {
    if (!receiveTimer) { receiveTimer = setTimeout(askCaller, ms); }
  }
  function dropReceiver() {
    if (receiver) { try { receiver.close(); } catch (e) { /* already closed */ } receiver = null; }
  }
  function askCaller() {
    receiveTimer = null;
    if (closing || callOnOwn || receiver || !callExpected || !pc || pc.connectionState !== "connected") { return; }
    var examinerView = document.getElementById("examiner-view");
    window.aufsicht.postJson(receiveUrl, {}).then(function (r) {
      if (r.ok && r.body.receive === false) { callOnOwn = true; return null; }
      if (!r.ok || r.body.type !== "offer" || receiver) { askCallerSoon(3000); return null; }  // nobody calls yet
      var rc = new RTCPeerConnection({iceServers: iceServers}), caller = new MediaStream();
      receiver = rc;
      if (examinerView) { examinerView.srcObject = caller; }
      rc.ontrack = function (ev) { caller.addTrack(ev.track); };
      rc.onconnectionstatechange = function () {  // the caller left (or the way broke): ask again
        if (rc === receiver && (rc.connectionState === "failed" || rc.connectionState === "closed")) {
          receiver = null;
          askCallerSoon(3000);
        }
      };
      return rc.setRemoteDescription({type: "offer", sdp: r.body.sdp})
        .then(function () { return rc.createAnswer(); })
        .then(function (a) { return rc.setLocalDescription(a); })
        .then(function () { return waitIce(rc); })
        .then(function () { return window.aufsicht.postJson(receiveUrl, {sdp: rc.localDescription.sdp}); })
        .then(function (a) { if (!a.ok) { throw a; } });
    }).catch(function () { dropReceiver(); askCallerSoon(3000); });
  }
  document.addEventListener("aufsicht:notice", function (ev) {
    var kind = ev.detail && ev.detail.kind;
    if (kind === "call_started") { callExpected = true; askCallerSoon(1000); }
    if (kind === "call_ended" && examinerBox && examinerBox.classList.contains("proctor-call")) {
      callExpected = false;
      dropReceiver();
    }
  });

  // Try again with a growing pause; ``text``: why (the server's words, such as all media servers busy).
  function retry(text) {
    if (closing) { return; }
    setState("reconnecting", typeof text === "string" && text ? text : root.dataset.msgReconnecting);
    if (pc) { try { pc.close(); } catch (e) { /* already closed */ } pc = null; }
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  // Leaving the page (submitting, the result page) hides the tab and ends fullscreen: not something to flag.
  // A platform assessment's supervision window sits beside the assessment: the candidate works in the other
  // window, so its own visibility and fullscreen say nothing.
  var beside = root.dataset.window === "supervision";
  document.addEventListener("visibilitychange", function () {
    if (!closing && !beside) { send(document.hidden ? "tab_hidden" : "tab_visible"); }
  });
  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement && !closing && !beside) { send("fullscreen_exit"); }
  });
  document.addEventListener("copy", function () { send("copy"); });
  document.addEventListener("paste", function () { send("paste"); });
  if (window.screen && window.screen.isExtended) { send("second_screen"); }
  window.addEventListener("beforeunload", function () { closing = true; });

  // A new camera/microphone stream (exam_watch.js, after one was lost): shown and sent without reconnecting.
  function useStream(s) {
    stream = s;
    document.getElementById("self-view").srcObject = s;
    if (pc) {
      pc.getSenders().forEach(function (sender) {
        if (sender === screenSender) { return; }  // the screen keeps its own track (screen.js)
        var track = s.getTracks().filter(function (t) { return sender.track === null || t.kind === sender.track.kind; })[0];
        if (track) { sender.replaceTrack(track); }
      });
    }
    document.dispatchEvent(new CustomEvent("aufsicht:media-stream", {detail: s}));
  }
  window.aufsicht.media = {send: send, useStream: useStream};

  if (share) {
    share.send = send;
    share.onTrack = function (track) { if (screenSender) { screenSender.replaceTrack(track); } };
    window.aufsicht.moreScreens().then(function (more) { if (more) { send("second_screen"); } });
  }
  navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480, frameRate: 30}})
    .then(function (s) {
      useStream(s);
      return share ? share.ready : null;
    })
    .then(function () { connect(); }, function () { setState("denied", root.dataset.msgDenied); throw "denied"; })
    .catch(function () { setState("denied", root.dataset.msgDenied); });
})();

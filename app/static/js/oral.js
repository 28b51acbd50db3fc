// The examiner's side of an oral exam, and a proctor's call with a candidate (issue 29): camera and microphone go to the media engine, which forwards them to the
// candidate and the candidate's back to here (no re-encoding); both sides are recorded.
(function () {
  "use strict";
  var root = document.getElementById("oral-call");
  if (!root) { return; }
  var state = document.getElementById("oral-state");
  var pc = null;
  var receiver = null;  // where the media server sends the candidate on a connection of its own (Janus)

  function say(s, text) { state.dataset.state = s; state.textContent = text; }

  function waitIce(conn) {
    if (conn.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      conn.addEventListener("icegatheringstatechange", function () {
        if (conn.iceGatheringState === "complete") { resolve(); }
      });
      setTimeout(resolve, 5000);
    });
  }

  var endButton = document.getElementById("call-end");
  if (endButton) {
    endButton.addEventListener("click", function () {
      if (pc) { pc.close(); pc = null; }
      if (receiver) { receiver.close(); receiver = null; }
      var self = document.getElementById("oral-self").srcObject;
      if (self) { self.getTracks().forEach(function (t) { t.stop(); }); }
      endButton.hidden = true;
      if (!root.dataset.end) { say("ended", root.dataset.msgEnded); return; }
      window.aufsicht.postJson(root.dataset.end, {}).then(function () { say("ended", root.dataset.msgEnded); });
    });
  }
  // From an alert on the grid ("#oral-call"): the call is one click away, its button has the focus.
  // (After the load: the browser's own move to the fragment comes then and would take the focus back.)
  if (window.location.hash === "#oral-call") {
    window.addEventListener("load", function () { setTimeout(function () { document.getElementById("oral-join").focus(); }, 0); });
  }

  function receive(offer, remote, conn) {
    var rc = new RTCPeerConnection({iceServers: JSON.parse(root.dataset.ice || "[]")});
    receiver = rc;
    rc.ontrack = function (ev) { remote.addTrack(ev.track); };
    return rc.setRemoteDescription(offer)
      .then(function () { return rc.createAnswer(); })
      .then(function (a) { return rc.setLocalDescription(a); })
      .then(function () { return waitIce(rc); })
      .then(function () {
        if (conn !== pc) { rc.close(); return null; }  // joined again meanwhile
        return window.aufsicht.postJson(root.dataset.offer.replace(/\/offer$/, "/receive"), {sdp: rc.localDescription.sdp});
      })
      .then(function (r) {
        if (r && !r.ok) { throw {userMessage: window.aufsicht.message(r, root.dataset.msgFailed)}; }
      });
  }

  document.getElementById("oral-join").addEventListener("click", function () {
    say("connecting", root.dataset.msgConnecting);
    navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480, frameRate: 30}})
      .catch(function () { say("denied", root.dataset.msgDenied); throw "denied"; })
      .then(function (local) {
        document.getElementById("oral-self").srcObject = local;
        if (pc) { pc.close(); }
        if (receiver) { receiver.close(); receiver = null; }
        var conn = new RTCPeerConnection({iceServers: JSON.parse(root.dataset.ice || "[]")});
        pc = conn;
        local.getTracks().forEach(function (t) { conn.addTrack(t, local); });
        var remote = new MediaStream();
        document.getElementById("oral-remote").srcObject = remote;
        conn.ontrack = function (ev) { remote.addTrack(ev.track); };
        conn.onconnectionstatechange = function () {
          if (conn.connectionState === "connected") {
            say("connected", root.dataset.msgConnected);
            if (endButton) { endButton.hidden = false; }
          }
          if (conn.connectionState === "failed") {  // why, in words, then what to do
            say("failed", root.dataset.msgFailed);
            window.aufsicht.whyFailed(conn, false).then(function (why) {
              if (conn === pc) { say("failed", why + ". " + root.dataset.msgFailed); }
            });
          }
        };
        return conn.createOffer().then(function (o) { return conn.setLocalDescription(o); })
          .then(function () { return waitIce(conn); })
          .then(function () { return window.aufsicht.postJson(root.dataset.offer, {sdp: conn.localDescription.sdp}); })
          .then(function (r) {
            if (!r.ok || !r.body.sdp) { throw {userMessage: window.aufsicht.message(r, root.dataset.msgFailed)}; }
            return conn.setRemoteDescription({type: r.body.type, sdp: r.body.sdp}).then(function () {
              // The candidate on a connection of its own (the Janus plane): the server offers, we answer.
              if (r.body.receive) { return receive(r.body.receive, remote, conn); }
            });
          });
      })
      .catch(function (e) { if (e !== "denied") { say("failed", (e && e.userMessage) || root.dataset.msgFailed); } });
  });
})();

// Calls to our JSON API from every page: credentials, the CSRF header, and a stale token renewed once.
// A page's CSRF token belongs to the session it was rendered in. When the user logged in again meanwhile
// (in another tab, say), the server answers 400 "csrf_invalid"; then the current token is read from a
// fresh copy of this page and the same request is sent once more, so nothing typed is lost.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');

  function renew() {
    return fetch(window.location.href, {credentials: "same-origin"})
      .then(function (page) { return page.text(); })
      .then(function (html) {
        var m = html.match(/name="csrf-token" content="([^"]+)"/);
        if (m && meta) { meta.content = m[1]; }
      });
  }

  function send(url, options, renewed) {
    var opts = Object.assign({credentials: "same-origin"}, options || {});
    opts.headers = Object.assign({"Accept": "application/json", "X-CSRFToken": meta ? meta.content : ""},
                                 (options || {}).headers || {});
    return fetch(url, opts).then(function (resp) {
      if (resp.status !== 400 || renewed) { return resp; }
      return resp.clone().json().then(function (body) {
        if (!body.error || body.error.code !== "csrf_invalid") { return resp; }
        return renew().then(function () { return send(url, options, true); });
      }, function () { return resp; });
    });
  }

  // POST a JSON body; resolves to {ok, status, body} (body: the parsed answer, or {} if it was not JSON).
  function postJson(url, data) {
    return send(url, {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify(data || {})}).then(answer);
  }

  function answer(resp) {
    return resp.json().then(function (b) { return {ok: resp.ok, status: resp.status, body: b}; },
                            function () { return {ok: resp.ok, status: resp.status, body: {}}; });
  }

  // The message of an error answer, for the page to show.
  function message(r, fallback) {
    return (r.body && r.body.error && r.body.error.message) || fallback || ("HTTP " + r.status);
  }

  // Why a WebRTC connection to the media server failed, in the page's words (the #media-words element), read
  // from the browser's own statistics: no address of its own, none from the server, or checks left unanswered.
  // ``wasConnected``: it had been up (then it was interrupted). Resolves to "The connection ... failed: why".
  function whyFailed(pc, wasConnected) {
    var el = document.getElementById("media-words");
    var words = el ? el.dataset : {};
    var head = words.failed || "The connection to the media server failed";
    if (wasConnected) { return Promise.resolve(head + ": " + (words.lost || "interrupted")); }
    return pc.getStats().then(function (stats) {
      var local = 0, remote = 0;
      stats.forEach(function (s) {
        if (s.type === "local-candidate") { local++; }
        if (s.type === "remote-candidate") { remote++; }
      });
      if (!local) { return head + ": " + (words.noLocal || "no local address"); }
      if (!remote && !/a=candidate:/.test((pc.remoteDescription || {}).sdp || "")) {
        return head + ": " + (words.noRemote || "the server offered no address");
      }
      return head + ": " + (words.noAnswer || "no answer from the server");
    }, function () { return head + "."; });
  }

  window.aufsicht = {send: send, postJson: postJson, answer: answer, message: message, whyFailed: whyFailed};
})();

// Data export progress on the privacy page: poll each unfinished export until it is ready.
(function () {
  "use strict";
  document.querySelectorAll("li.export").forEach(function (li) {
    var bar = li.querySelector("progress");
    var state = li.querySelector(".export-state");
    if (li.querySelector(".export-download")) { return; }
    function poll() {
      fetch(li.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (s) {
          bar.value = s.progress;
          if (s.status === "ready" && s.download) {
            var a = document.createElement("a");
            a.className = "export-download";
            a.href = s.download;
            a.textContent = document.documentElement.lang === "de" ? "Herunterladen" : "Download";
            state.replaceChildren(a);
          } else if (s.status !== "failed") {
            setTimeout(poll, 1000);
          }
        }).catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  });
})();

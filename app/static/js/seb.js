// Safe Exam Browser's JavaScript API (SEB for macOS/iOS 3.x in the modern WebView, SEB for Windows from 3.3.2):
// those send no key headers, so the page hands the key SEB computed for it (SHA-256 of the page URL and the
// Config Key) to the server in a cookie that every later request of this tab carries (exams/lockdown.py checks it).
// In any other browser there is no SafeExamBrowser object and nothing happens.
(function () {
  "use strict";
  var seb = window.SafeExamBrowser;
  if (!seb || !seb.security) { return; }
  var root = document.querySelector("[data-seb-retry]");

  function publish() {
    var key = seb.security.configKey;
    if (!key) { return; }
    var page = window.location.href.split("#")[0];
    document.cookie = "aufsicht_seb=" + encodeURIComponent(page + "|" + key) + "; path=/; SameSite=Strict" +
      (window.location.protocol === "https:" ? "; Secure" : "");
    // A page that was refused or showed the SEB steps only because it came without the key: load it once more.
    if (root && root.dataset.sebRetry === "yes") {
      var once = "aufsicht-seb-retried:" + page;
      if (!window.sessionStorage.getItem(once)) {
        window.sessionStorage.setItem(once, "1");
        window.location.reload();
      }
    }
  }

  if (seb.security.configKey) {
    publish();
  } else if (typeof seb.security.updateKeys === "function") {
    seb.security.updateKeys(publish);  // SEB 3.0 for macOS/iOS sets the keys only when asked
  }
})();

// Tables that sort: each column head of a listed table (or of a table with class "sortable") becomes a button;
// pressing it (click, Enter or Space) sorts the rows by that column, again reverses. The head says the order to
// screen readers (aria-sort) and with an arrow; numbers, percentages and dates ("24.12.2026 10:15" or ISO) sort as
// such, text in the page's language. A row of a single cell ("nothing yet") is left out.
(function () {
  "use strict";
  var LISTED = ["#exams", "#to-review", "#attempts", "#roster", "#held", "#corrections", "#reviews", "#today",
                "#accounts", "#account-actions", "#statistics", "#items", "#oversight-figures", "#accommodations",
                "#sessions", "#my-flags", "#receipts", "#inventory", "#detector-list"];
  var lang = document.documentElement.lang || undefined;
  var collator = new Intl.Collator(lang, {numeric: true, sensitivity: "base"});

  function keyOf(cell) {
    if (!cell) { return {n: null, s: ""}; }
    if (cell.dataset.sort !== undefined) { return keyOfText(cell.dataset.sort); }
    var time = cell.querySelector("time[datetime]");
    if (time) { return {n: null, s: time.getAttribute("datetime")}; }
    return keyOfText(cell.textContent);
  }
  function keyOfText(raw) {
    var text = raw.replace(/\s+/g, " ").trim();
    var de = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,? (\d{1,2}):(\d{2}))?/.exec(text);
    if (de) {
      return {n: null, s: de[3] + "-" + pad(de[2]) + "-" + pad(de[1]) + " " + pad(de[4] || "0") + ":" + (de[5] || "00")};
    }
    if (/^\d{4}-\d{2}-\d{2}/.test(text)) { return {n: null, s: text}; }
    var num = text.replace(/\s*%$/, "").replace(/^[+]/, "");
    if (lang === "de") { num = num.replace(/\./g, "").replace(",", "."); }
    if (num !== "" && /^-?\d+(\.\d+)?$/.test(num)) { return {n: parseFloat(num), s: text}; }
    return {n: null, s: text};
  }
  function pad(v) { return String(v).padStart(2, "0"); }
  function compare(a, b) {
    if (a.n !== null && b.n !== null) { return a.n - b.n; }
    if (a.n !== null) { return -1; }
    if (b.n !== null) { return 1; }
    return collator.compare(a.s, b.s);
  }

  function enhance(table) {
    if (table.dataset.sortable === "on" || !table.tHead || !table.tBodies.length) { return; }
    table.dataset.sortable = "on";
    table.classList.add("sortable");
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      if (th.dataset.nosort !== undefined || !th.textContent.trim()) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      var arrow = document.createElement("span");
      arrow.className = "sort-arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = "\u2195";
      button.appendChild(arrow);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        sortBy(table, col, ascending);
        Array.prototype.forEach.call(heads, function (other) {
          other.removeAttribute("aria-sort");
          var a = other.querySelector(".sort-arrow");
          if (a) { a.textContent = "\u2195"; }
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        arrow.textContent = ascending ? "\u2191" : "\u2193";
      });
    });
  }
  function sortBy(table, col, ascending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.filter.call(body.rows, function (r) { return r.cells.length > 1; });
    var keyed = rows.map(function (r, i) { return {row: r, key: keyOf(r.cells[col]), i: i}; });
    keyed.sort(function (x, y) { return (ascending ? 1 : -1) * compare(x.key, y.key) || x.i - y.i; });
    keyed.forEach(function (k) { body.appendChild(k.row); });
  }
  function all() {
    document.querySelectorAll(LISTED.join(",") + ", table.sortable").forEach(function (t) {
      if (t.tagName === "TABLE") { enhance(t); }
    });
  }
  window.aufsicht = window.aufsicht || {};
  window.aufsicht.sortable = all;
  all();
})();

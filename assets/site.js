// Progressive enhancement of the signatory table: search (filter) and sort.
// Without JavaScript the full table is shown and the search form stays hidden.
(function () {
  "use strict";
  var table = document.getElementById("signatories");
  var form = document.getElementById("search");
  var input = document.getElementById("q");
  var shown = document.getElementById("shown");
  if (!table || !form || !input || !shown) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var total = rows.length;

  // Filters rows: every whitespace-separated term must occur in the row's search text.
  // Returns the number of rows left visible. Loading `?q=...` and typing both use it.
  function applyFilter(query) {
    var terms = query.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var hay = rows[i].getAttribute("data-search") || "";
      var match = terms.every(function (t) { return hay.indexOf(t) !== -1; });
      rows[i].hidden = !match;
      if (match) { count++; }
    }
    shown.textContent = terms.length === 0
      ? total + " signatories"
      : count + " of " + total + " signatories match \u201c" + query.trim() + "\u201d";
    table.setAttribute("data-visible", String(count));
    return count;
  }

  function rememberQuery(query) {
    try {
      var url = new URL(window.location.href);
      if (query) { url.searchParams.set("q", query); } else { url.searchParams.delete("q"); }
      window.history.replaceState(null, "", url.toString());
    } catch (e) { /* file:// or old browser: the filter still works */ }
  }

  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  input.addEventListener("input", function () {
    applyFilter(input.value);
    rememberQuery(input.value);
  });
  var initial = "";
  try { initial = new URLSearchParams(window.location.search).get("q") || ""; } catch (e) { initial = ""; }
  input.value = initial;
  applyFilter(initial);

  // Sorting: each column header becomes a button; cells may carry data-sort.
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute("data-sort");
    return (v === null ? cell.textContent : v).trim().toLowerCase();
  }
  headers.forEach(function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var sorted = rows.slice().sort(function (a, b) {
        var x = key(a, col), y = key(b, col);
        var c = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? c : -c;
      });
      var frag = document.createDocumentFragment();
      sorted.forEach(function (r) { frag.appendChild(r); });
      tbody.appendChild(frag);
    });
  });
}());

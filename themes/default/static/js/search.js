// Full-text search over window.BULLETIN_SEARCH (assets/search-index.js).
// Chinese has no spaces between words, so matching is by substring: every term the
// reader types (split on spaces) must occur in the title or the text. Works from file://.
(function () {
  "use strict";
  var section = document.querySelector(".search");
  var input = document.getElementById("q");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var records = window.BULLETIN_SEARCH || [];
  var root = section.getAttribute("data-root") || "";

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function highlight(text, terms) {
    var html = escapeHtml(text);
    terms.forEach(function (t) {
      var e = escapeHtml(t).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      html = html.replace(new RegExp(e, "gi"), function (m) { return "<mark>" + m + "</mark>"; });
    });
    return html;
  }
  function snippet(text, term) {
    var at = text.toLowerCase().indexOf(term.toLowerCase());
    if (at < 0) return text.slice(0, 80);
    var start = Math.max(0, at - 30);
    return (start > 0 ? "…" : "") + text.slice(start, at + term.length + 50) + "…";
  }
  function search(query) {
    var terms = query.trim().split(/\s+/).filter(Boolean);
    list.innerHTML = "";
    if (!terms.length) { status.textContent = ""; return; }
    var hits = [];
    records.forEach(function (r) {
      var title = r.t.toLowerCase(), body = (r.x + " " + r.g.join(" ")).toLowerCase();
      var score = 0;
      for (var i = 0; i < terms.length; i++) {
        var t = terms[i].toLowerCase();
        var inTitle = title.indexOf(t) >= 0, inBody = body.indexOf(t) >= 0;
        if (!inTitle && !inBody) return;
        score += (inTitle ? 10 : 0) + (inBody ? 1 : 0);
      }
      hits.push({ r: r, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    status.textContent = hits.length ? "找到 " + hits.length + " 篇文章" : "没有找到包含“" + query + "”的文章";
    hits.forEach(function (h) {
      var li = document.createElement("li");
      li.innerHTML = '<a href="' + root + h.r.u + '">' + highlight(h.r.t, terms) + "</a>" +
        '<span class="muted">' + escapeHtml(h.r.i) + "</span>" +
        "<p>" + highlight(snippet(h.r.x, terms[0]), terms) + "</p>";
      list.appendChild(li);
    });
  }
  var params = new URLSearchParams(window.location.search);
  if (params.get("q")) { input.value = params.get("q"); search(input.value); }
  input.addEventListener("input", function () { search(input.value); });
  section.querySelector("form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    search(input.value);
    if (window.history && window.location.protocol !== "file:") {
      window.history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    }
  });
})();

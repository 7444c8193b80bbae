// The inbox pages' keyboard shortcuts, the composer's live length counter and its "/" canned-reply search.
// Agents live in these pages all day: n = take next case, / = search canned replies in the composer,
// Ctrl/⌘+Enter = send, Esc = back to the inbox. Nothing here may lose what an agent typed.
(function () {
  "use strict";

  function typingInField(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function replyBox() { return document.getElementById("id_text"); }

  // ------------------------------------------------------------ live length, as the server counts it
  // inbox/limits.py is the authority (the server refuses over-long text); its rules are rendered into the page
  // as #composer-limits and this is the same algorithm, step by step (tests/e2e/test_composer.py checks the two
  // agree on the same texts): strip, then on X's public replies NFC, URLs as twitter-text finds them weigh 23,
  // code points in the light ranges 1, emoji sequences 2, everything else 2.
  var limitsData, compiled;

  function composerLimits() {
    if (limitsData === undefined) {
      var el = document.getElementById("composer-limits");
      limitsData = el ? JSON.parse(el.textContent) : null;
    }
    return limitsData;
  }

  function regexps(rules) {
    if (compiled && compiled.rules === rules) return compiled;
    function fill(source) { return source.split("{tld}").join(rules.tld).split("{cctld}").join(rules.cctld); }
    compiled = {
      rules: rules,
      url: new RegExp(fill(rules.url), "giu"),
      ascii: new RegExp(fill(rules.asciiDomain), "giu"),
      shortDomain: new RegExp(fill(rules.shortDomain), "iu"),
      special: new RegExp(rules.specialShortDomain, "iu"),
      noScheme: new RegExp(rules.noSchemeBefore, "u")
    };
    return compiled;
  }

  function urlSpans(text, re) {
    if (text.indexOf(".") === -1) return [];
    var spans = [], m, a;
    re.url.lastIndex = 0;
    while ((m = re.url.exec(text)) !== null) {
      var before = m[1] || "", url = m[2], scheme = m[3], domain = m[4], path = m[5];
      var start = m.index + before.length, end = start + url.length;
      if (scheme) { spans.push([start, end]); continue; }
      if (re.noScheme.test(before)) continue;
      var last = null;
      re.ascii.lastIndex = 0;
      while ((a = re.ascii.exec(domain)) !== null) {
        last = [start + a.index, start + a.index + a[0].length];
        if (path || re.special.test(a[0]) || !re.shortDomain.test(a[0])) spans.push(last);
      }
      if (last && path) last[1] = end;
    }
    return spans;
  }

  function weight(piece, rules) {
    var total = 0, joined = false, regionalOpen = false, previous = 0;
    for (var ch of piece) {
      var cp = ch.codePointAt(0);
      if (cp === 0x200D || cp === 0xFE0F || (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F)) {
        joined = joined || cp === 0x200D;
        continue;
      }
      if (cp === 0x20E3) {
        total += previous && "0123456789#*".indexOf(String.fromCodePoint(previous)) !== -1 ? 1 : 2;
        previous = cp;
        continue;
      }
      previous = cp;
      if (joined) { joined = false; continue; }
      if (cp >= 0x1F1E6 && cp <= 0x1F1FF) {
        regionalOpen = !regionalOpen;
        if (!regionalOpen) continue;
      } else {
        regionalOpen = false;
      }
      var light = rules.lightRanges.some(function (r) { return cp >= r[0] && cp <= r[1]; });
      total += light ? 1 : rules.defaultWeight;
    }
    return total;
  }

  function composerLength(text, weighted, rules) {
    text = text.replace(/\r\n?/g, "\n").replace(new RegExp(rules.strip, "gu"), "");
    if (!weighted) return Array.from(text).length;
    text = text.normalize("NFC");
    var re = regexps(rules), total = 0, lastEnd = 0;
    urlSpans(text, re).forEach(function (span) {
      total += weight(text.slice(lastEnd, span[0]), rules) + rules.urlWeight;
      lastEnd = span[1];
    });
    return total + weight(text.slice(lastEnd), rules);
  }

  function showCount() {
    var form = document.getElementById("composer"), box = replyBox(), out = document.getElementById("char-count");
    var limits = composerLimits();
    if (!form || !box || !out || !limits) return;
    var checked = form.querySelector("input[name=visibility]:checked"), vis = checked ? checked.value : "public";
    var limit = limits[vis], n = composerLength(box.value, vis === "public" && limits.weighted, limits.rules);
    out.textContent = n + " / " + limit;
    out.className = "hint" + (n > limit ? " error" : "");
  }
  document.addEventListener("input", showCount);
  document.addEventListener("change", showCount);
  document.addEventListener("htmx:afterSwap", showCount);

  // ------------------------------------------------------------ "/" canned-reply search
  // Agents type without accents ("nao", "desculpa"): compare without them, and without case.
  function fold(s) { return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }

  function cannedOptions() {
    var select = document.getElementById("canned-select");
    return select ? Array.prototype.slice.call(select.options, 1) : [];
  }

  // Shortcut prefix first, then title, then the reply's text; within each, the bank's order (most used first).
  function matches(query) {
    query = fold(query);
    var ranked = [];
    cannedOptions().forEach(function (o, i) {
      var rank = fold(o.dataset.shortcut).indexOf(query) === 0 ? 0
        : fold(o.dataset.title).indexOf(query) !== -1 ? 1
        : fold(o.dataset.body).indexOf(query) !== -1 ? 2 : -1;
      if (rank !== -1) ranked.push({ option: o, rank: rank, order: i });
    });
    ranked.sort(function (a, b) { return a.rank - b.rank || a.order - b.order; });
    return ranked.slice(0, 6).map(function (r) { return r.option; });
  }

  // Where the caret was, once the agent has been in the box (before that, a pick goes at the end of the draft).
  function caretKnown(box) { return box.dataset.caretKnown === "1"; }
  // (Not on focus or Tab: a box tabbed into has its caret at the start, and a pick there would go first.)
  ["click", "keyup", "input", "select"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (e.target && e.target.id === "id_text" && e.key !== "Tab" && e.key !== "Shift") {
        e.target.dataset.caretKnown = "1";
      }
    }, true);
  });

  // The "/query" the agent is typing right before the caret, if any: what a pick replaces.
  function slashQuery(box) {
    if (!caretKnown(box) || box.selectionStart !== box.selectionEnd) return null;
    var upto = box.value.slice(0, box.selectionEnd), m = /(^|\s)\/(\S*)$/.exec(upto);
    return m ? { start: upto.length - m[2].length - 1, end: upto.length, query: m[2] } : null;
  }

  var found = [], active = 0;

  function renderSuggestions(box) {
    var list = document.getElementById("canned-suggestions");
    if (!list) return;
    var token = slashQuery(box);
    list.innerHTML = "";
    found = token ? matches(token.query) : [];
    active = 0;
    found.forEach(function (o, i) {
      var li = document.createElement("li");
      li.textContent = o.textContent;
      if (o.dataset.body) {
        var snippet = document.createElement("small");
        snippet.textContent = " " + o.dataset.body.slice(0, 90) + (o.dataset.body.length > 90 ? "…" : "");
        li.appendChild(snippet);
      }
      li.className = i === 0 ? "active" : "";
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pick(o); });
      list.appendChild(li);
    });
    list.hidden = found.length === 0;
  }

  function hideSuggestions() {
    var list = document.getElementById("canned-suggestions");
    if (list) list.hidden = true;
    found = [];
  }

  function moveActive(step) {
    var items = document.querySelectorAll("#canned-suggestions li");
    if (!items.length) return;
    active = (active + step + items.length) % items.length;
    items.forEach(function (li, i) { li.className = i === active ? "active" : ""; });
  }

  // Put `text` into the reply box without losing the draft: over the "/query" being typed, else at the caret,
  // else at the end. execCommand keeps the browser's undo history (Ctrl+Z brings the draft back as it was) and
  // fires "input" (counter, spelling, suggestions); setRangeText is the fallback.
  function insertIntoBox(box, text) {
    var value = box.value, token = slashQuery(box), start, end;
    if (token) { start = token.start; end = token.end; }
    else if (caretKnown(box)) { start = end = box.selectionEnd; }  // a selection is kept, not replaced
    else { start = end = value.length; }
    var before = value.slice(0, start), after = value.slice(end);
    if (before && !/\s$/.test(before)) text = " " + text;
    if (after && !/^\s/.test(after)) text = text + " ";
    box.focus();
    box.setSelectionRange(start, end);
    var done = false;
    try { done = document.execCommand("insertText", false, text); } catch (err) { done = false; }
    if (!done || box.value === value) {
      box.setRangeText(text, start, end, "end");
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    box.dataset.caretKnown = "1";
  }

  function pick(option) {
    hideSuggestions();
    fetch(option.value, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var rendered = doc.getElementById("id_text"), canned = doc.querySelector("input[name=canned_reply]");
        var box = replyBox();
        if (!rendered || !box) return;
        insertIntoBox(box, rendered.value);
        hideSuggestions();
        var hidden = document.querySelector("#composer-text input[name=canned_reply]");
        if (hidden && canned) hidden.value = canned.value;
      });
  }
  window.sacPickCanned = pick;

  document.addEventListener("input", function (e) {
    if (e.target.id === "id_text") renderSuggestions(e.target);
  });

  document.addEventListener("keydown", function (e) {
    if (e.target.id === "id_text") {
      var listOpen = found.length && !document.getElementById("canned-suggestions").hidden;
      if (listOpen && (e.key === "Tab" || (e.key === "Enter" && !e.ctrlKey && !e.metaKey)) && slashQuery(e.target)) {
        e.preventDefault();
        pick(found[active] || found[0]);
        return;
      }
      if (listOpen && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        moveActive(e.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (listOpen && e.key === "Escape") { e.preventDefault(); hideSuggestions(); return; }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        document.getElementById("send-reply").click();
        return;
      }
    }
    if (typingInField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "n" && document.getElementById("claim-next")) {
      e.preventDefault();
      document.getElementById("claim-next").click();
    } else if (e.key === "/" && replyBox()) {
      // Open the search at the end of the draft, keeping it: "/" goes after what is there.
      e.preventDefault();
      var box = replyBox(), end = box.value.length;
      box.focus();
      box.setSelectionRange(end, end);
      box.dataset.caretKnown = "1";
      insertIntoBox(box, "/");
    } else if (e.key === "Escape" && document.querySelector(".back")) {
      window.location = document.querySelector(".back").href;
    }
  });

  showCount();
})();

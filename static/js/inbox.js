// Keyboard shortcuts and the "/" canned-reply search. Agents live in these pages all day:
// n = take next case, / = search canned replies in the composer, Ctrl/⌘+Enter = send, Esc = back to the inbox.
(function () {
  "use strict";

  function typingInField(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function cannedOptions() {
    var select = document.getElementById("canned-select");
    return select ? Array.prototype.slice.call(select.options, 1) : [];
  }

  function matches(query) {
    query = query.toLowerCase();
    return cannedOptions().filter(function (o) {
      return (o.dataset.shortcut || "").toLowerCase().indexOf(query) === 0 ||
             o.textContent.toLowerCase().indexOf(query) !== -1;
    }).slice(0, 6);
  }

  function renderSuggestions(box) {
    var list = document.getElementById("canned-suggestions");
    if (!list) return [];
    var m = /^\/(\S*)$/.exec(box.value);
    list.innerHTML = "";
    if (!m) { list.hidden = true; return []; }
    var found = matches(m[1]);
    found.forEach(function (o, i) {
      var li = document.createElement("li");
      li.textContent = o.textContent;
      li.className = i === 0 ? "active" : "";
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pick(o); });
      list.appendChild(li);
    });
    list.hidden = found.length === 0;
    return found;
  }

  function pick(option) {
    var select = document.getElementById("canned-select");
    select.value = option.value;
    htmx.ajax("GET", option.value, { target: "#composer-text", swap: "outerHTML" }).then(function () {
      var box = document.getElementById("id_text");
      if (box) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
      var list = document.getElementById("canned-suggestions");
      if (list) list.hidden = true;
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target.id === "id_text") renderSuggestions(e.target);
  });

  document.addEventListener("keydown", function (e) {
    if (e.target.id === "id_text") {
      if ((e.key === "Tab" || e.key === "Enter") && /^\/\S*$/.test(e.target.value)) {
        var found = matches(e.target.value.slice(1));
        if (found.length) { e.preventDefault(); pick(found[0]); }
        return;
      }
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
    } else if (e.key === "/" && document.getElementById("id_text")) {
      e.preventDefault();
      var box = document.getElementById("id_text");
      box.focus();
      box.value = "/";
      renderSuggestions(box);
    } else if (e.key === "Escape" && document.querySelector(".back")) {
      window.location = document.querySelector(".back").href;
    }
  });
})();

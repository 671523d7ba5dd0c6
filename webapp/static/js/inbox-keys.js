// The inbox: a click anywhere on a task row opens the task (its step link stays the real link for
// keyboards and screen readers), and keyboard shortcuts: j/k select the next/previous task, Enter
// opens it, c claims it, / focuses the search, ? shows the list of shortcuts. Not while typing.
// The live inbox (js/inbox-live.js) swaps the table for a new one: the table is looked up each time.
(function () {
  "use strict";
  var TABLE = "[data-inbox-keys]";
  if (!document.querySelector(TABLE)) { return; }
  var help = document.getElementById("inbox-shortcuts");
  var search = document.getElementById("inbox-search");
  var selected = -1;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll(TABLE + " tbody tr.task-row")); }
  function linkOf(row) { return row && row.querySelector("a.step-link"); }

  function select(index) {
    var all = rows();
    if (!all.length) { return; }
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) {
      row.classList.toggle("is-selected", i === selected);
      if (i === selected) { row.setAttribute("aria-selected", "true"); } else { row.removeAttribute("aria-selected"); }
    });
    var link = linkOf(all[selected]);
    if (link) { link.focus({ preventScroll: true }); }
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function current() { return selected >= 0 ? rows()[selected] : null; }

  function claim(row) {
    var link = linkOf(row);
    var token = document.querySelector('meta[name="csrf-token"]');
    if (!link || !token) { return; }
    var form = document.createElement("form");
    form.method = "post";
    form.action = link.getAttribute("href") + "/claim";
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrf_token";
    input.value = token.getAttribute("content");
    form.appendChild(input);
    document.body.appendChild(form);
    form.submit();
  }

  function toggleHelp(show) {
    if (!help) { return; }
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    switch (event.key) {
      case "j": select(selected + 1); break;
      case "k": select(selected < 0 ? 0 : selected - 1); break;
      case "Enter":
        if (event.target.tagName === "A" || event.target.tagName === "BUTTON" || !current()) { return; }
        linkOf(current()).click();
        break;
      case "c":  // read-only users (auditors) claim nothing: no data-can-claim
        if (current() && document.querySelector(TABLE + "[data-can-claim]")) { claim(current()); } else { return; }
        break;
      case "/": if (search) { search.focus(); search.select(); } else { return; } break;
      case "?": toggleHelp(); break;
      case "Escape": toggleHelp(false); return;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var row = event.target.closest(TABLE + " tr.task-row");
    if (!row || event.target.closest("a, button, input, select, textarea, label, form")) { return; }
    if (window.getSelection && String(window.getSelection())) { return; }  // selecting text, not opening
    var link = linkOf(row);
    if (!link) { return; }
    if (event.ctrlKey || event.metaKey) { window.open(link.href, "_blank", "noopener"); } else { link.click(); }
  });

  // The selection follows the row focused last (a click, a tab); a redrawn table keeps the focused row.
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest(TABLE + " tr.task-row");
    if (row) { selected = rows().indexOf(row); }
  });
  document.addEventListener("inbox:updated", function () {
    var focused = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest(TABLE + " tr.task-row");
    selected = focused ? rows().indexOf(focused) : -1;
  });

  if (help) {
    var close = help.querySelector("[data-shortcuts-close]");
    if (close) { close.addEventListener("click", function () { toggleHelp(false); }); }
  }
})();

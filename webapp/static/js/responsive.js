/*
 * Narrow screens (styled by responsive.css):
 * - the menu button in the top bar opens and closes the menu (navigation, language, user, logout);
 *   the top bar gets the class has-menu so the menu folds only when this script runs;
 * - every table.grid not already in a scroll box is wrapped in <div class="scroll-x">, and a box
 *   wider than the screen shows a hint above it (text from <body data-scroll-hint>);
 * - the cells of a table.stack-cards (shown as cards on phones) are labelled with their column
 *   heading (data-label) when the page did not label them, also for rows added later.
 */
(function () {
  "use strict";

  function setupMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var bar = toggle && toggle.closest(".topbar");
    if (!bar) { return; }
    bar.classList.add("has-menu");

    function setOpen(open) {
      bar.classList.toggle("menu-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle.addEventListener("click", function () { setOpen(!bar.classList.contains("menu-open")); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && bar.classList.contains("menu-open")) {
        setOpen(false);
        toggle.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (bar.classList.contains("menu-open") && !bar.contains(event.target)) { setOpen(false); }
    });
  }

  var SCROLL_BOXES = ".scroll-x, .table-scroll";

  function wrapTables() {
    Array.prototype.forEach.call(document.querySelectorAll("table.grid"), function (table) {
      if (table.parentElement.closest(SCROLL_BOXES)) { return; }
      var box = document.createElement("div");
      box.className = "scroll-x";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  function markOverflow() {
    var text = document.body.getAttribute("data-scroll-hint") || "";
    Array.prototype.forEach.call(document.querySelectorAll(SCROLL_BOXES), function (box) {
      var hint = box.previousElementSibling;
      if (!hint || !hint.classList.contains("scroll-hint")) {
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.textContent = text;
        box.parentNode.insertBefore(hint, box);
      }
      var wide = box.scrollWidth > box.clientWidth + 1;
      hint.hidden = !wide;
      box.classList.toggle("is-wide", wide);
    });
  }

  function labelCells(table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (!cell.hasAttribute("data-label") && heads[index] && cell.colSpan === 1) {
          cell.setAttribute("data-label", heads[index]);
        }
      });
    });
  }

  function setupCards() {
    Array.prototype.forEach.call(document.querySelectorAll("table.stack-cards"), function (table) {
      labelCells(table);
      if (table.hasAttribute("data-cards-watched")) { return; }
      table.setAttribute("data-cards-watched", "");
      new MutationObserver(function () { labelCells(table); })
        .observe(table, {childList: true, subtree: true});
    });
  }

  function start() {
    setupMenu();
    setupCards();
    wrapTables();
    markOverflow();
    document.addEventListener("inbox:updated", function () {  // js/inbox-live.js drew a new table
      setupCards();
      wrapTables();
      markOverflow();
    });
    var pending = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(markOverflow, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/*
 * Logging out forgets the drafts this browser kept (js/task-edit.js keeps them in localStorage
 * under "tourflow:task-draft:<user>:<task>"): a shared desk computer must not keep one person's
 * typing for the next. The server's copy stays with its owner and comes back at their next login.
 */
(function () {
  "use strict";
  var PREFIX = "tourflow:task-draft:";

  function forgetDrafts() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var key = localStorage.key(i);
        if (key && key.indexOf(PREFIX) === 0) { localStorage.removeItem(key); }
      }
    } catch (e) { /* storage unavailable: nothing was kept */ }
  }

  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form[data-logout]")) { forgetDrafts(); }
  }, true);
})();

// The 现在 (now) button beside a date-time field fills it with the current time.
(function () {
  "use strict";
  document.querySelectorAll("[data-now-for]").forEach(function (b) {
    b.addEventListener("click", function () {
      // the server reads datetime-local values as Asia/Shanghai time (UTC+8, no DST)
      var d = new Date(Date.now() + 8 * 3600 * 1000);
      document.getElementById(b.dataset.nowFor).value = d.toISOString().slice(0, 16);
    });
  });
})();

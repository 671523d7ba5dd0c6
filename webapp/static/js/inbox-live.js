// The live inbox: poll the inbox's stamp (GET /api/v1/inbox/stamp?since=...; 304 while nothing
// changed), and when it changes, fetch this same page (same filters, sort and page) and swap the
// counts, lane chips and rows in place. New rows are highlighted, a polite notice says how many
// arrived, the tab title carries the open-task count, and a desktop notification (opt-in) tells
// a hidden tab. docs/inbox.md has the figures (statements per poll, polls per minute).
(function () {
  "use strict";
  var live = document.getElementById("inbox-live");
  if (!live || !window.fetch) return;
  var VISIBLE_MS = 2000, HIDDEN_MS = 30000, HIGHLIGHT_MS = 4000, NOTICE_MS = 10000;
  var NOTIFY_KEY = "tf-inbox-notify";
  var notice = document.getElementById("inbox-live-notice");
  var notifyButton = document.getElementById("inbox-live-notify");
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  var stamp = live.dataset.stamp, open = parseInt(live.dataset.open, 10) || 0;
  var timer = null, busy = false, stopped = false, noticeTimer = null;
  var highlighted = {};  // task id -> until when its row is highlighted (ms)

  function setTitle(count) {
    document.title = (count > 0 ? "(" + count + ") " : "") + baseTitle;
  }

  function taskIds(root) {
    var ids = {};
    root.querySelectorAll(".inbox-table a.step-link").forEach(function (a) {
      var m = /\/tasks\/(\d+)/.exec(a.getAttribute("href") || "");
      if (m) ids[m[1]] = a.closest("tr");
    });
    return ids;
  }

  function swap(selector, fresh) {
    var old = document.querySelector(selector), next = fresh.querySelector(selector);
    if (old && next) old.replaceWith(document.adoptNode(next));
    else if (old) old.remove();
    else if (next) {
      var anchor = document.querySelector("form.filters");
      if (anchor) anchor.before(document.adoptNode(next));
    }
  }

  function announce(text) {
    notice.textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, NOTICE_MS);
  }

  function notifying() {
    return "Notification" in window && Notification.permission === "granted" &&
      window.localStorage && localStorage.getItem(NOTIFY_KEY) === "1";
  }

  function apply(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var freshLive = fresh.getElementById("inbox-live");
    if (!freshLive) { stopped = true; return; }  // logged out: the login page came back
    var focused = document.activeElement, focusHref = null;
    if (focused && focused.closest && focused.closest(".table-card")) focusHref = focused.getAttribute("href");
    var before = taskIds(document);
    swap(".page-head .stats", fresh);
    swap(".lane-chips", fresh);
    swap(".table-card", fresh);
    // ids only grow: a row above the newest task of the last render is new; one below it came back
    // (released, reassigned to me) or moved in from another page, and is only updated in place
    var newest = parseInt(live.dataset.newest, 10) || 0;
    var added = 0, after = taskIds(document), now = Date.now();
    Object.keys(after).forEach(function (id) {
      if (!before[id] && after[id] && parseInt(id, 10) > newest) {
        added += 1;
        highlighted[id] = now + HIGHLIGHT_MS;
      }
      // a row stays highlighted for HIGHLIGHT_MS, even when a later change redraws the table
      if (after[id] && highlighted[id] > now) {
        var row = after[id];
        row.classList.add("live-new");
        setTimeout(function () { row.classList.remove("live-new"); }, highlighted[id] - now);
      }
    });
    if (focusHref) {
      var again = document.querySelector('.table-card a[href="' + focusHref + '"]');
      if (again) again.focus();
    }
    // other inbox scripts (keyboard selection, search) re-attach to the new rows on this event
    document.dispatchEvent(new CustomEvent("inbox:updated", { detail: { added: added } }));
    var count = parseInt(freshLive.dataset.open, 10) || 0;
    var arrived = added || Math.max(0, count - open);
    stamp = freshLive.dataset.stamp;
    open = count;
    live.dataset.stamp = stamp;
    live.dataset.open = String(open);
    live.dataset.newest = freshLive.dataset.newest;
    setTitle(open);
    if (arrived > 0) {
      var text = arrived === 1 ? live.dataset.newOne : live.dataset.newMany.replace("{n}", arrived);
      announce(text);
      if (document.hidden && notifying()) {
        try {
          new Notification(live.dataset.notifyTitle, { body: text, tag: "tourflow-inbox" });
        } catch (e) { /* phones allow notifications from service workers only: the title still counts */ }
      }
    }
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) apply(html); });
  }

  function poll() {
    if (busy || stopped) return schedule();
    busy = true;
    fetch(live.dataset.stampUrl + "?since=" + encodeURIComponent(stamp), {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
    }).then(function (r) {
      if (r.status === 401) { stopped = true; return null; }
      if (r.status === 200) return refresh();
      // 304: nothing changed; the ETag is the stamp to send next time (it may have been counted again)
      var etag = r.headers.get("ETag");
      if (r.status === 304 && etag) stamp = etag.replace(/^W\//, "").replace(/"/g, "");
      return null;
    }).catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () { busy = false; schedule(); });
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(poll, document.hidden ? HIDDEN_MS : VISIBLE_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !busy) poll();  // back to the tab: look now, then every VISIBLE_MS
    else schedule();
  });

  if (notifyButton && "Notification" in window && Notification.permission !== "denied" && !notifying()) {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") return;
        localStorage.setItem(NOTIFY_KEY, "1");
        notifyButton.hidden = true;
        announce(live.dataset.notifyOn);
      });
    });
  }

  setTitle(open);
  schedule();
})();

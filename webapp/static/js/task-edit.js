// The task page: who else has this task's form open, and my draft of it (webapp/api_task_edits.py).
// - every ~10 s while the page is visible, tell the server the form is open and show who else has it;
// - ~2 s after a change, keep what was typed: in localStorage (key: user + task) and on the server;
// - on opening the page, restore the newer of the two drafts, with a notice and a discard button.
// Password and file inputs are never kept. Submitting the form clears the local draft; the server's
// goes with the task once it is completed.
(function () {
  "use strict";
  var box = document.getElementById("task-edit");
  if (!box) return;
  var d = box.dataset;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var form = document.querySelector("form.task-form");
  var others = box.querySelector(".task-edit-others");
  var restored = box.querySelector(".task-edit-restored");
  var savedNote = box.querySelector(".task-edit-saved");
  var HEARTBEAT_MS = 10000;
  var SAVE_AFTER_MS = 2000;
  var key = "tourflow:task-draft:" + d.user + ":" + d.task;

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) { return r.ok ? r.json() : Promise.reject(r); });
  }

  function hhmm(iso) { // Asia/Shanghai (UTC+8, no DST), as every time on the pages
    return new Date(Date.parse(iso) + 8 * 3600 * 1000).toISOString().slice(11, 16);
  }

  // ---- who else has the form open ----------------------------------------------------------
  function ago(seen, now) {
    var minutes = Math.floor((Date.parse(now) - Date.parse(seen)) / 60000);
    return minutes < 1 ? d.tJust : d.tMinutes.replace("{n}", String(minutes));
  }

  function showEditors(answer) {
    others.textContent = "";
    answer.editors.forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = d.tEditing.replace("{name}", e.display_name).replace("{ago}", ago(e.seen_at, answer.now));
      others.appendChild(li);
    });
    others.hidden = answer.editors.length === 0;
  }

  var beating = null;
  function beat() {
    post(d.presenceUrl).then(showEditors, function (r) {
      if (r && r.status && r.status !== 429 && r.status < 500) stop(); // gone, or not mine: stop asking
    });
  }
  function start() {
    if (beating) return;
    beat();
    beating = setInterval(beat, HEARTBEAT_MS);
  }
  function stop() {
    clearInterval(beating);
    beating = null;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) stop(); else start();
  });
  if (!document.hidden) start();

  // ---- my draft ------------------------------------------------------------------------------
  if (!form || d.autosave !== "yes") return;

  function kept(el) {
    var type = (el.type || "").toLowerCase();
    return el.name && !el.disabled && el.name !== "csrf_token" && !/__present$/.test(el.name) &&
      ["password", "file", "hidden", "submit", "button", "reset"].indexOf(type) < 0;
  }

  function values() {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el)) return;
      if (el.type === "radio") {
        if (!(el.name in out)) out[el.name] = null;
        if (el.checked) out[el.name] = el.value;
      } else if (el.type === "checkbox") {
        if (!Array.isArray(out[el.name])) out[el.name] = [];
        if (el.checked) out[el.name].push(el.value);
      } else if (el.tagName === "SELECT" && el.multiple) {
        out[el.name] = Array.prototype.map.call(el.selectedOptions, function (o) { return o.value; });
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }

  function fill(data) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el) || !(el.name in data)) return;
      var v = data[el.name];
      if (el.type === "radio") el.checked = el.value === v;
      else if (el.type === "checkbox") el.checked = Array.isArray(v) && v.indexOf(el.value) >= 0;
      else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = Array.isArray(v) && v.indexOf(o.value) >= 0; });
      } else el.value = v == null ? "" : v;
      el.dispatchEvent(new Event("change", { bubbles: true })); // conditional fields (form.js) follow
    });
  }

  function readLocal() {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function writeLocal(draft) {
    try { localStorage.setItem(key, JSON.stringify(draft)); } catch (e) { /* full or private mode: server only */ }
  }
  function dropLocal() {
    try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
  }

  var pending = null;
  var restoring = false;
  function save() {
    pending = null;
    var data = values();
    writeLocal({ data: data, saved_at: new Date().toISOString() });
    post(d.draftUrl, { data: data }).then(function (answer) {
      savedNote.textContent = d.tSaved.replace("{time}", hhmm(answer.draft.saved_at));
    }, function () { /* kept locally; the next change tries again */ });
  }
  function schedule() {
    if (restoring) return;
    clearTimeout(pending);
    pending = setTimeout(save, SAVE_AFTER_MS);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", function () {
    clearTimeout(pending);
    dropLocal();
  });

  restored.querySelector(".task-edit-discard").addEventListener("click", function () {
    clearTimeout(pending);
    dropLocal();
    var reload = function () { window.location.href = window.location.pathname; };
    post(d.discardUrl).then(reload, reload);
  });

  if (d.restore !== "yes") return; // a page answering a submit shows what was submitted
  fetch(d.draftUrl, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { draft: null }; }, function () { return { draft: null }; })
    .then(function (answer) {
      var server = answer.draft;
      var local = readLocal();
      var best = server;
      if (local && local.data && (!server || Date.parse(local.saved_at) > Date.parse(server.saved_at))) best = local;
      if (!best) return;
      restoring = true;
      fill(best.data);
      restoring = false;
      if (best !== server) schedule(); // the server keeps the newer local draft too
      restored.querySelector("span").textContent = d.tRestored.replace("{time}", hhmm(best.saved_at));
      restored.hidden = false;
    });
})();

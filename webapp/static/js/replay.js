/*
 * Step-through replay on the audit page (templates/audit/timeline.html).
 *
 * `#replay[data-replay-url]` answers {"identical", "difference", "snapshots": [{"seq", "at", "kind",
 * "completed": [ids], "active": [ids], "waiting": [ids], "data": {...}}, ...]}, one snapshot per
 * audit event (engine/replay.py). `#replay-diagram` is drawn by diagram.js (the instance's
 * process version, unmarked); this script marks, at each step, the nodes done, active and
 * waiting, and lists the data at that moment, keys changed by the step highlighted.
 * Texts, data labels (in form order) and each event's label come from `#replay-config`.
 *
 * State for tests: #replay[data-state] = loading | ready | error, [data-seq] = the shown event's
 * seq; #replay-diagram[data-replay-seq] once its markers show that step, with data-completed,
 * data-active and data-waiting counts.
 */
(function () {
  "use strict";

  var KINDS = ["completed", "active", "waiting"];
  var section = document.getElementById("replay");
  if (!section) { return; }
  var config = JSON.parse(document.getElementById("replay-config").textContent);
  var T = config.text;
  var diagramBox = document.getElementById("replay-diagram");
  var slider = document.getElementById("replay-slider");
  var position = document.getElementById("replay-position");
  var stepBox = document.getElementById("replay-step");
  var dataBox = document.getElementById("replay-data");
  var verdict = document.getElementById("replay-verdict");
  var buttons = section.querySelectorAll("[data-step]");

  var snapshots = [];
  var index = 0;
  var viewer = null;
  var marked = [];  // [elementId, marker class] currently on the diagram

  function fmt(template, params) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : all;
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = text; }
    return node;
  }

  var ISO_MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
  var CHINA_TIME = window.Intl ? new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
  }) : null;

  function show(value) {
    if (value === null || value === undefined || value === "") { return "—"; }
    if (typeof value === "string" && CHINA_TIME && ISO_MOMENT.test(value)) {
      var moment = new Date(value);
      if (!isNaN(moment.getTime())) { return CHINA_TIME.format(moment); }  // "2026-11-20 09:30", China time
    }
    if (value === true) { return T.yes; }
    if (value === false) { return T.no; }
    if (Array.isArray(value)) { return value.map(show).join("、") || "—"; }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }

  function same(a, b) {
    return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
  }

  // ---- the diagram -------------------------------------------------------------------
  function whenDiagramReady(callback) {
    function check() {
      var state = diagramBox.getAttribute("data-state");
      if (state === "ready" && diagramBox.tfViewer) { callback(diagramBox.tfViewer); return true; }
      return state === "error";
    }
    if (check()) { return; }
    var observer = new MutationObserver(function () { if (check()) { observer.disconnect(); } });
    observer.observe(diagramBox, {attributes: true, attributeFilter: ["data-state"]});
  }

  function mark(snapshot) {
    if (!viewer || !snapshot) { return; }
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    marked.forEach(function (pair) { canvas.removeMarker(pair[0], pair[1]); });
    marked = [];
    KINDS.forEach(function (kind) {
      var count = 0;
      (snapshot[kind] || []).forEach(function (id) {
        if (typeof id !== "string" || !registry.get(id)) { return; }
        canvas.addMarker(id, "tf-" + kind);
        marked.push([id, "tf-" + kind]);
        count += 1;
      });
      diagramBox.setAttribute("data-" + kind, String(count));
      var counter = section.querySelector('[data-count-for="' + kind + '"]');
      if (counter) { counter.textContent = String(count); }
    });
    if (diagramBox.tfReveal) { diagramBox.tfReveal(snapshot.active || []); }  // the step in view
    diagramBox.setAttribute("data-replay-seq", String(snapshot.seq));
  }

  // ---- the data at this moment ------------------------------------------------------------
  function renderData(snapshot, previous) {
    dataBox.textContent = "";
    var data = snapshot.data || {};
    var before = previous ? previous.data || {} : {};
    var labels = {};
    var keys = [];
    (config.labels || []).forEach(function (pair) {
      labels[pair[0]] = pair[1];
      if (Object.prototype.hasOwnProperty.call(data, pair[0])) { keys.push(pair[0]); }
    });
    Object.keys(data).sort().forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(labels, key)) { keys.push(key); }
    });
    if (!keys.length) {
      dataBox.appendChild(el("p", "muted", T.empty));
      return;
    }
    keys.forEach(function (key) {
      var changed = previous !== null && !same(data[key], before[key]);
      var row = el("div", "data-row" + (changed ? " changed" : ""));
      row.setAttribute("data-key", key);
      var dt = el("dt", null, labels[key] || key);
      dt.title = key;
      var dd = el("dd", null, show(data[key]));
      if (changed) { dd.appendChild(el("span", "changed-tag", T.changed)); }
      row.appendChild(dt);
      row.appendChild(dd);
      dataBox.appendChild(row);
    });
  }

  // ---- moving through the steps ------------------------------------------------------------
  function go(to) {
    if (!snapshots.length) { return; }
    index = Math.max(0, Math.min(snapshots.length - 1, to));
    var snapshot = snapshots[index];
    slider.value = String(index);
    position.textContent = fmt(T.position, {n: index + 1, total: snapshots.length});
    buttons.forEach(function (button) {
      var step = button.getAttribute("data-step");
      button.disabled = (step === "first" || step === "prev") ? index === 0 : index === snapshots.length - 1;
    });
    var info = config.events[String(snapshot.seq)] || {};
    stepBox.textContent = "";
    stepBox.appendChild(el("span", "step-seq mono", "#" + snapshot.seq));
    stepBox.appendChild(el("strong", "step-kind", info.label || snapshot.kind));
    if (info.note) { stepBox.appendChild(el("span", "step-note", info.note)); }
    stepBox.appendChild(el("span", "step-meta muted", [info.actor, info.at].filter(Boolean).join(" · ")));
    renderData(snapshot, index > 0 ? snapshots[index - 1] : null);
    mark(snapshot);
    section.setAttribute("data-seq", String(snapshot.seq));
    var rows = document.querySelectorAll(".audit-row.current");
    Array.prototype.forEach.call(rows, function (row) { row.classList.remove("current"); });
    var row = document.getElementById("event-" + snapshot.seq);
    if (row) { row.classList.add("current"); }
  }

  function indexOfSeq(seq) {
    for (var i = 0; i < snapshots.length; i += 1) {
      if (snapshots[i].seq === seq) { return i; }
    }
    return -1;
  }

  function wire() {
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var step = button.getAttribute("data-step");
        go({first: 0, prev: index - 1, next: index + 1, last: snapshots.length - 1}[step]);
      });
    });
    slider.addEventListener("input", function () { go(parseInt(slider.value, 10)); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-goto]"), function (link) {
      var at = indexOfSeq(parseInt(link.getAttribute("data-goto"), 10));
      if (at < 0) { link.disabled = true; return; }
      link.addEventListener("click", function () {
        go(at);
        section.scrollIntoView({behavior: "smooth", block: "start"});
      });
    });
  }

  function setVerdict(kind, text) {
    verdict.className = "replay-verdict badge " + kind;
    verdict.textContent = text;
  }

  function fail(message) {
    section.setAttribute("data-state", "error");
    setVerdict("status-error", fmt(T.failed, {error: message}));
    stepBox.textContent = fmt(T.failed, {error: message});
  }

  function start() {
    section.setAttribute("data-state", "loading");
    setVerdict("", T.loading);
    fetch(section.getAttribute("data-replay-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) { throw new Error("HTTP " + response.status + (body.message ? " · " + body.message : "")); }
          return body;
        });
      })
      .then(function (result) {
        snapshots = Array.isArray(result.snapshots) ? result.snapshots : [];
        if (result.identical) {
          setVerdict("status-completed", T.identical);
        } else {
          setVerdict("status-error", fmt(T.different, {difference: result.difference || "?"}));
        }
        if (!snapshots.length) {  // nothing to step through; the verdict above says why
          section.setAttribute("data-state", "error");
          stepBox.textContent = result.difference || T.empty;
          return;
        }
        slider.max = String(snapshots.length - 1);
        slider.disabled = false;
        wire();
        var wanted = /^#step-(\d+)$/.exec(window.location.hash || "");
        var first = wanted ? indexOfSeq(parseInt(wanted[1], 10)) : 0;
        go(first < 0 ? 0 : first);
        section.setAttribute("data-state", "ready");
        whenDiagramReady(function (ready) {
          viewer = ready;
          mark(snapshots[index]);
        });
      })
      .catch(function (err) {
        if (window.console) { window.console.error("replay", err); }
        fail(err && err.message ? err.message : String(err));
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

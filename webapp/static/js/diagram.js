/*
 * Process diagrams: every `<div class="diagram" data-diagram-url="...">` on the page is filled
 * with a read-only bpmn-js viewer (vendor/bpmn-js, loaded before this file as the global BpmnJS).
 *
 * The URL answers JSON: {"bpmn_xml": "<definitions…>",
 *                        "nodes": {"completed": [ids], "active": [ids], "failed": [ids]}}
 * (`nodes` may be empty or missing, e.g. for a process version). A version diagram asked
 * `?against=N` marks instead {"added": [ids], "removed": [ids], "changed": [ids]}: what differs
 * from version N. Element ids the diagram does not have are skipped. When done the container gets data-state="ready" (or "error", with the
 * reason shown inside it), so tests and other scripts can wait for it.
 */
(function () {
  "use strict";

  // Marker classes added to the diagram elements; styled in diagram.css.
  var KINDS = ["completed", "active", "failed", "added", "removed", "changed"];

  var TEXT = {
    zh: {
      completed: "已完成", active: "进行中", failed: "失败", legend: "图例",
      added: "新增", removed: "删除", changed: "修改",
      loading: "正在加载流程图…", error: "流程图加载失败", noViewer: "流程图组件未能加载",
      badResponse: "服务器返回的流程图数据无效", label: "流程图", colon: "：",
      zoomIn: "放大", zoomOut: "缩小", fit: "显示全图", tools: "缩放"
    },
    en: {
      completed: "Completed", active: "In progress", failed: "Failed", legend: "Legend",
      added: "Added", removed: "Removed", changed: "Changed",
      loading: "Loading the diagram…", error: "The diagram could not be loaded",
      noViewer: "The diagram viewer did not load", badResponse: "The server sent invalid diagram data",
      label: "Process diagram", colon: ": ",
      zoomIn: "Zoom in", zoomOut: "Zoom out", fit: "Show the whole process", tools: "Zoom"
    }
  };

  function texts() {
    var lang = (document.documentElement.getAttribute("lang") || "zh").toLowerCase();
    return lang.indexOf("en") === 0 ? TEXT.en : TEXT.zh;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = text; }
    return node;
  }

  function setState(container, state) {
    container.setAttribute("data-state", state);
    container.setAttribute("aria-busy", state === "loading" ? "true" : "false");
  }

  function showStatus(container, className, message) {
    var old = container.querySelector(".diagram-status");
    if (old) { old.parentNode.removeChild(old); }
    if (message == null) { return; }
    var box = el("div", "diagram-status " + className, message);
    box.setAttribute("role", className === "diagram-error" ? "alert" : "status");
    container.appendChild(box);
  }

  function showError(container, t, detail) {
    showStatus(container, "diagram-error", detail ? t.error + t.colon + detail : t.error);
    setState(container, "error");
  }

  // The kinds a legend lists: an instance's three states, or the kinds of a diff that are present.
  function legendKinds(nodes) {
    var diff = ["added", "removed", "changed"];
    var isDiff = diff.some(function (kind) { return Array.isArray(nodes[kind]); });
    return isDiff ? diff.filter(function (kind) { return Array.isArray(nodes[kind]); })
                  : ["completed", "active", "failed"];
  }

  function legend(t, kinds) {
    var box = el("div", "diagram-legend");
    box.setAttribute("aria-label", t.legend);
    kinds.forEach(function (kind) {
      var item = el("span", "diagram-legend-item diagram-legend-" + kind);
      item.appendChild(el("span", "diagram-swatch tf-swatch-" + kind));
      item.appendChild(document.createTextNode(t[kind]));
      box.appendChild(item);
    });
    return box;
  }

  // The JSON error body of our API is {"error": code, "message": text}; use its message if any.
  function responseError(response) {
    return response.text().then(function (body) {
      var message = "HTTP " + response.status;
      try {
        var data = JSON.parse(body);
        if (data && typeof data.message === "string" && data.message) {
          message += " · " + data.message;
        }
      } catch (ignored) { /* not JSON: keep the status */ }
      throw new Error(message);
    });
  }

  function addMarkers(viewer, nodes) {
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    var counts = {};
    KINDS.forEach(function (kind) {
      var ids = nodes && Array.isArray(nodes[kind]) ? nodes[kind] : [];
      counts[kind] = 0;
      ids.forEach(function (id) {
        if (typeof id !== "string" || !registry.get(id)) { return; }  // not in this diagram
        canvas.addMarker(id, "tf-" + kind);
        counts[kind] += 1;
      });
    });
    return counts;
  }

  // ---- navigation: readable first view, zoom buttons, touch pan and pinch ----------------
  // bpmn-js draws labels at 12px; below this scale they would be smaller than ~10px on screen.
  var READABLE_SCALE = 10 / 12;
  var ZOOM_STEP = 1.25;
  var MARGIN = 0.95;  // a margin around the fitted diagram

  function fitAll(canvas) {
    canvas.zoom("fit-viewport", "auto");
    canvas.zoom(canvas.zoom() * MARGIN);
  }

  // Along one axis: where a view of `size` starting near `wanted` begins, kept on the diagram
  // (from `start`, `length` long, with a small margin) so no empty space shows beside it.
  function clampStart(wanted, size, start, length) {
    var pad = 20;
    if (length + 2 * pad <= size) { return start + length / 2 - size / 2; }
    return Math.min(Math.max(wanted, start - pad), start + length + pad - size);
  }

  // Show the diagram at `scale` with the point (x, y) of the diagram as near the middle as the
  // diagram's edges allow.
  function showAt(canvas, scale, x, y) {
    var box = canvas.viewbox();
    var width = box.outer.width / scale;
    var height = box.outer.height / scale;
    canvas.viewbox({
      x: clampStart(x - width / 2, width, box.inner.x, box.inner.width),
      y: clampStart(y - height / 2, height, box.inner.y, box.inner.height),
      width: width, height: height
    });
  }

  // The element to centre: the first active node, else the first failed one, else a start event.
  function focusElement(viewer, nodes) {
    var registry = viewer.get("elementRegistry");
    var ids = [].concat(nodes.active || [], nodes.failed || []);
    for (var i = 0; i < ids.length; i += 1) {
      var element = typeof ids[i] === "string" && registry.get(ids[i]);
      if (element && element.width) { return element; }
    }
    return registry.filter(function (element) { return element.type === "bpmn:StartEvent"; })[0] || null;
  }

  // Fit; if that makes text too small, zoom to readable size around the current step (instance
  // pages) or the start of the process, so the rest is reached by panning.
  function firstView(viewer, nodes) {
    var canvas = viewer.get("canvas");
    fitAll(canvas);
    if (canvas.zoom() >= READABLE_SCALE) { return; }
    var focus = focusElement(viewer, nodes);
    if (focus) {
      showAt(canvas, READABLE_SCALE, focus.x + focus.width / 2, focus.y + focus.height / 2);
      return;
    }
    var inner = canvas.viewbox().inner;
    showAt(canvas, READABLE_SCALE, inner.x, inner.y + inner.height / 2);
  }

  // Bring the first of these elements into view when none of them is (replay.js, stepping), at
  // the current zoom. Returns whether the view moved.
  function reveal(viewer, ids) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var view = canvas.viewbox();
    var elements = (ids || []).map(function (id) { return registry.get(id); })
      .filter(function (element) { return element && element.width; });
    var shown = elements.some(function (e) {
      return e.x >= view.x && e.y >= view.y && e.x + e.width <= view.x + view.width &&
        e.y + e.height <= view.y + view.height;
    });
    if (!elements.length || shown) { return false; }
    showAt(canvas, view.scale, elements[0].x + elements[0].width / 2, elements[0].y + elements[0].height / 2);
    return true;
  }

  function toolButton(label, symbol, kind, onClick) {
    var button = el("button", "diagram-tool diagram-" + kind, symbol);
    button.type = "button";
    button.title = label;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  function addTools(canvasBox, viewer, t) {
    var canvas = viewer.get("canvas");
    var tools = el("div", "diagram-tools");
    tools.setAttribute("role", "group");
    tools.setAttribute("aria-label", t.tools);
    tools.appendChild(toolButton(t.zoomIn, "+", "zoom-in", function () { canvas.zoom(canvas.zoom() * ZOOM_STEP); }));
    tools.appendChild(toolButton(t.zoomOut, "\u2212", "zoom-out", function () { canvas.zoom(canvas.zoom() / ZOOM_STEP); }));
    tools.appendChild(toolButton(t.fit, "\u2922", "fit", function () { fitAll(canvas); }));
    canvasBox.appendChild(tools);
  }

  // Touch: one finger pans, two fingers pinch-zoom (the viewer itself only follows the mouse).
  function addTouch(canvasBox, viewer) {
    var canvas = viewer.get("canvas");
    var touches = {};
    function points() { return Object.keys(touches).map(function (id) { return touches[id]; }); }
    function spread(list) { return Math.hypot(list[0].x - list[1].x, list[0].y - list[1].y); }
    canvasBox.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" || event.target.closest(".diagram-tools")) { return; }
      event.preventDefault();  // no emulated mouse events: the viewer must not pan a second time
      try { canvasBox.setPointerCapture(event.pointerId); } catch (ignored) { /* pointer already gone */ }
      touches[event.pointerId] = {x: event.clientX, y: event.clientY};
    });
    canvasBox.addEventListener("pointermove", function (event) {
      var last = touches[event.pointerId];
      if (!last) { return; }
      var before = points();
      var now = {x: event.clientX, y: event.clientY};
      if (before.length === 1) {
        canvas.scroll({dx: now.x - last.x, dy: now.y - last.y});
      } else if (before.length === 2) {
        var oldSpread = spread(before);
        touches[event.pointerId] = now;
        var after = points();
        var rect = canvasBox.getBoundingClientRect();
        var centre = {x: (after[0].x + after[1].x) / 2 - rect.left, y: (after[0].y + after[1].y) / 2 - rect.top};
        if (oldSpread > 0) { canvas.zoom(canvas.zoom() * spread(after) / oldSpread, centre); }
      }
      touches[event.pointerId] = now;
    });
    function lift(event) { delete touches[event.pointerId]; }
    canvasBox.addEventListener("pointerup", lift);
    canvasBox.addEventListener("pointercancel", lift);
  }

  function render(container) {
    if (container.getAttribute("data-state")) { return; }  // already done or under way
    var t = texts();
    var url = container.getAttribute("data-diagram-url");
    setState(container, "loading");
    if (!container.hasAttribute("role")) { container.setAttribute("role", "figure"); }
    if (!container.hasAttribute("aria-label")) { container.setAttribute("aria-label", t.label); }
    showStatus(container, "diagram-loading", t.loading);

    if (typeof window.BpmnJS !== "function") {
      showError(container, t, t.noViewer);
      return;
    }

    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { return responseError(response); }
        return response.json().catch(function () { throw new Error(t.badResponse); });
      })
      .then(function (data) {
        if (!data || typeof data.bpmn_xml !== "string" || !data.bpmn_xml) {
          throw new Error(t.badResponse);
        }
        var nodes = data.nodes || {};
        // Legend strip above the canvas (never over the diagram), in place before the import so
        // that fit-viewport measures the final canvas size. Not drawn when nothing is marked
        // (a process version rather than an instance).
        var marked = KINDS.some(function (kind) { return Array.isArray(nodes[kind]) && nodes[kind].length; });
        var legendBox = marked ? legend(t, legendKinds(nodes)) : null;
        var canvasBox = el("div", "diagram-canvas");
        if (legendBox) { container.appendChild(legendBox); }
        container.appendChild(canvasBox);
        var viewer = new window.BpmnJS({container: canvasBox});
        container.tfViewer = viewer;  // for debugging from the console
        container.tfReveal = function (ids) { return reveal(viewer, ids); };
        return viewer.importXML(data.bpmn_xml).then(function () {
          firstView(viewer, nodes);
          addTools(canvasBox, viewer, t);
          addTouch(canvasBox, viewer);
          if (window.ResizeObserver) {  // a phone turned sideways: the viewer re-measures its box
            new window.ResizeObserver(function () { viewer.get("canvas").resized(); }).observe(canvasBox);
          }
          var counts = addMarkers(viewer, nodes);
          showStatus(container, "", null);
          KINDS.forEach(function (kind) {
            container.setAttribute("data-" + kind, String(counts[kind]));
            var item = legendBox && legendBox.querySelector(".diagram-legend-" + kind);
            if (item) { item.setAttribute("data-count", String(counts[kind])); }
          });
          container.tfData = data;
          setState(container, "ready");
          // Other scripts (heatmap.js) add their layers once the diagram is drawn.
          container.dispatchEvent(new CustomEvent("diagram-ready", {detail: {viewer: viewer, data: data}}));
        }, function (err) {
          viewer.destroy();
          container.removeChild(canvasBox);
          if (legendBox) { container.removeChild(legendBox); }
          container.tfViewer = null;
          throw err;
        });
      })
      .catch(function (err) {
        if (window.console) { window.console.error("diagram", url, err); }
        showError(container, t, err && err.message ? err.message : String(err));
      });
  }

  function renderAll() {
    var containers = document.querySelectorAll(".diagram[data-diagram-url]");
    Array.prototype.forEach.call(containers, render);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})();

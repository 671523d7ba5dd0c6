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
      badResponse: "服务器返回的流程图数据无效", label: "流程图", colon: "："
    },
    en: {
      completed: "Completed", active: "In progress", failed: "Failed", legend: "Legend",
      added: "Added", removed: "Removed", changed: "Changed",
      loading: "Loading the diagram…", error: "The diagram could not be loaded",
      noViewer: "The diagram viewer did not load", badResponse: "The server sent invalid diagram data",
      label: "Process diagram", colon: ": "
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
        return viewer.importXML(data.bpmn_xml).then(function () {
          var canvas = viewer.get("canvas");
          canvas.zoom("fit-viewport", "auto");
          canvas.zoom(canvas.zoom() * 0.95);  // a margin around the diagram, centred
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

/*
 * Heatmap layer on a process diagram (diagram.js draws it). The diagram's JSON carries
 * "heat": {node id: {"instances": n, "median_s": s, "p90_s": s}} and "max_instances".
 * Each node gets a shade by how many instances passed it (tf-heat-1 … tf-heat-5) and a
 * badge: instances · median time spent (p90 in its tooltip).
 */
(function () {
  "use strict";

  var TEXT = {
    zh: {median: "中位", p90: "P90", instances: "个实例", s: "秒", min: "分", h: "小时", d: "天"},
    en: {median: "median", p90: "p90", instances: "instances", s: "s", min: "min", h: "h", d: "d"}
  };

  function texts() {
    var lang = (document.documentElement.getAttribute("lang") || "zh").toLowerCase();
    return lang.indexOf("en") === 0 ? TEXT.en : TEXT.zh;
  }

  function duration(seconds, t) {
    if (seconds < 60) { return (Math.round(seconds * 10) / 10) + t.s; }
    if (seconds < 3600) { return Math.round(seconds / 60) + t.min; }
    if (seconds < 86400) { return (Math.round(seconds / 360) / 10) + t.h; }
    return (Math.round(seconds / 8640) / 10) + t.d;
  }

  function paint(container, viewer, data) {
    var heat = data.heat || {};
    var max = data.max_instances || 0;
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var t = texts();
    var painted = 0;
    Object.keys(heat).forEach(function (id) {
      var node = heat[id];
      if (!registry.get(id) || !max) { return; }
      var level = Math.max(1, Math.ceil(5 * node.instances / max));
      canvas.addMarker(id, "tf-heat-" + level);
      var badge = document.createElement("div");
      badge.className = "tf-heat-badge";
      badge.setAttribute("data-node", id);
      badge.textContent = node.instances + " · " + t.median + " " + duration(node.median_s, t);
      badge.title = node.instances + " " + t.instances + "; " + t.median + " " + duration(node.median_s, t) +
        ", " + t.p90 + " " + duration(node.p90_s, t);
      overlays.add(id, "tf-heat", {position: {bottom: 4, left: 0}, html: badge});
      painted += 1;
    });
    container.setAttribute("data-heat-nodes", String(painted));
  }

  function attach(container) {
    if (container.getAttribute("data-state") === "ready" && container.tfViewer) {
      paint(container, container.tfViewer, container.tfData || {});
      return;
    }
    container.addEventListener("diagram-ready", function (event) {
      paint(container, event.detail.viewer, event.detail.data);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".diagram[data-heatmap]"), attach);
})();

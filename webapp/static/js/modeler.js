/*
 * The modeler page (templates/processes/edit.html): the bpmn-js Modeler (vendor/bpmn-js, loaded
 * before this file as the global BpmnJS) on the XML in #modeler's data-xml.
 *
 * Live lint: ~800 ms after the last change (commandStack.changed) the diagram is sent to
 * POST /api/v1/lint; each finding about an element gets a marker (lint-error / lint-warning) and
 * an overlay with its message, and every finding is listed beside the diagram (clicking one
 * selects its element). 保存草稿 POSTs the XML to /api/v1/drafts and opens the draft's preview;
 * 下载 .bpmn saves the XML as a file. Texts come from the page (data-t-*), already translated.
 *
 * The forms of the version or draft being edited (#modeler-context) are kept in page.forms; the
 * form editor (js/modeler-forms.js) changes them, lint checks the diagram with them, and a draft
 * is saved with them. The properties panel (js/modeler-panel.js) starts from window.tourflowModelerPage.
 *
 * For tests and other scripts: window.tourflowModeler is the Modeler; #modeler gets
 * data-state="ready" once the diagram is drawn (or "error"), and #lint-list data-lint-round
 * counts the lint answers shown.
 */
(function () {
  "use strict";

  var LINT_DELAY_MS = 800;
  var root = document.getElementById("modeler");
  if (!root) { return; }
  var status = document.getElementById("modeler-status");
  var list = document.getElementById("lint-list");
  var summary = document.getElementById("lint-summary");
  var data = root.dataset;
  var marked = [];  // [elementId, markerClass] added by the last lint round
  var lintTimer = null;
  var lintRequest = 0;
  var lintRound = 0;

  function t(name) { return data["t" + name.charAt(0).toUpperCase() + name.slice(1)] || name; }

  function say(message, isError) {
    status.textContent = message || "";
    status.classList.toggle("is-error", !!isError);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  if (typeof window.BpmnJS !== "function") {
    root.setAttribute("data-state", "error");
    say(t("noModeler"), true);
    return;
  }

  var modeler = new window.BpmnJS({ container: document.getElementById("modeler-canvas") });
  window.tourflowModeler = modeler;
  var context = JSON.parse(document.getElementById("modeler-context").textContent);
  var forms = context.forms || {};  // file name -> JSON Schema (an object; text when it is not JSON)
  var canvas = modeler.get("canvas");
  var overlays = modeler.get("overlays");
  var registry = modeler.get("elementRegistry");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = text; }
    return node;
  }

  // ---- lint ----------------------------------------------------------------------------------
  function clearMarks() {
    marked.forEach(function (pair) {
      if (registry.get(pair[0])) { canvas.removeMarker(pair[0], pair[1]); }
    });
    marked = [];
    overlays.remove({ type: "lint" });
  }

  function selectElement(id) {
    var element = registry.get(id);
    if (!element) { return; }
    modeler.get("selection").select(element);
    if (element.waypoints == null) { canvas.scrollToElement(element); }
  }

  function showFindings(findings) {
    clearMarks();
    list.textContent = "";
    var errors = 0, warnings = 0, seen = {};
    findings.forEach(function (f) {
      if (f.severity === "error") { errors += 1; } else { warnings += 1; }
      var item = el("li", "lint-" + f.severity);
      var badge = el("span", "badge sev-" + f.severity, f.severity === "error" ? t("error") : t("warning"));
      item.appendChild(badge);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("code", null, f.rule));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("span", "lint-where", f.line + ":" + f.col + (f.element ? " · " + f.element : "")));
      item.appendChild(el("span", "lint-message", f.message));
      var other = f.message === f.message_zh ? f.message_en : f.message_zh;  // the other language, smaller
      if (other && other !== f.message) { item.appendChild(el("span", "lint-message-other", other)); }
      if (f.element && registry.get(f.element)) {
        item.setAttribute("data-element", f.element);
        item.tabIndex = 0;
        item.addEventListener("click", function () { selectElement(f.element); });
        item.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); selectElement(f.element); }
        });
        var cls = "lint-" + f.severity;
        canvas.addMarker(f.element, cls);
        marked.push([f.element, cls]);
        if (!seen[f.element]) {  // one overlay per element: its first finding (errors sort first)
          seen[f.element] = true;
          var note = el("div", "lint-badge lint-badge-" + f.severity, f.message);
          note.title = f.rule + ": " + f.message + (other && other !== f.message ? "\n" + other : "");
          overlays.add(f.element, "lint", { position: { bottom: -4, left: 0 }, html: note });
        }
      }
      list.appendChild(item);
    });
    summary.textContent = findings.length ? t("counts").replace("{errors}", errors).replace("{warnings}", warnings)
                                          : t("clean");
    lintRound += 1;
    list.setAttribute("data-lint-round", String(lintRound));
    list.setAttribute("data-errors", String(errors));
  }

  // The API answers in the Accept-Language it is sent (webapp/i18n.py): ask in the page's language.
  function pageLanguage() { return document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en"; }

  function lintNow() {
    var mine = ++lintRequest;
    summary.textContent = t("checking");
    modeler.saveXML({ format: true }).then(function (result) {
      return fetch(data.lintUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept-Language": pageLanguage() },
        body: JSON.stringify({ bpmn_xml: result.xml, process_id: data.processId, forms: formObjects() })
      });
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (body) {
      if (mine === lintRequest) { showFindings(body.findings || []); }
    }).catch(function (err) {
      if (mine === lintRequest) { summary.textContent = t("lintFailed") + ": " + err.message; }
    });
  }

  function formObjects() {
    var out = {};
    Object.keys(forms).forEach(function (name) {
      if (forms[name] && typeof forms[name] === "object") { out[name] = forms[name]; }
    });
    return out;
  }

  function lintSoon() {
    if (lintTimer) { clearTimeout(lintTimer); }
    lintTimer = setTimeout(function () { lintTimer = null; lintNow(); }, LINT_DELAY_MS);
  }

  // ---- buttons -------------------------------------------------------------------------------
  function zoom(step) {
    var current = canvas.zoom();
    canvas.zoom(Math.max(0.2, Math.min(4, current + step)));
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var blob = new Blob([result.xml], { type: "application/xml" });
      var link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = data.filename;
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
  }

  function saveDraft(button) {
    button.disabled = true;
    say(t("saving"));
    modeler.saveXML({ format: true }).then(function (result) {
      var form = new FormData();
      form.append("files", new Blob([result.xml], { type: "application/xml" }), data.filename);
      Object.keys(forms).forEach(function (name) {
        var text = typeof forms[name] === "string" ? forms[name] : JSON.stringify(forms[name], null, 2);
        form.append("files", new Blob([text], { type: "application/json" }), name);
      });
      return fetch(data.draftsUrl, { method: "POST", credentials: "same-origin", body: form,
                                      headers: { "X-CSRFToken": csrfToken(), "Accept-Language": pageLanguage() } });
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.message || ("HTTP " + response.status)); }
        return body;
      });
    }).then(function (preview) {
      window.location.assign(data.draftPage.replace(/\/0$/, "/" + preview.id));
    }).catch(function (err) {
      button.disabled = false;
      say(t("saveFailed") + ": " + err.message, true);
    });
  }

  document.querySelectorAll(".modeler-actions [data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-action");
      if (action === "zoom-in") { zoom(0.2); }
      else if (action === "zoom-out") { zoom(-0.2); }
      else if (action === "fit") { canvas.zoom("fit-viewport", "auto"); }
      else if (action === "download") { download(); }
      else if (action === "save") { saveDraft(button); }
    });
  });

  // SpiffWorkflow reads a multi-instance's loopDataInputRef / loopDataOutputRef as a data key
  // ("forwarded_problems"), where BPMN expects the id of an element; bpmn-js drops a reference it
  // cannot resolve, so saving would lose the collection. A stand-in with that id writes it back.
  var NAMED_REFERENCES = ["bpmn:loopDataInputRef", "bpmn:loopDataOutputRef"];

  function keepNamedReferences(warnings) {
    var moddle = modeler.get("moddle");
    (warnings || []).forEach(function (w) {
      if (w.element && NAMED_REFERENCES.indexOf(w.property) >= 0 && typeof w.value === "string") {
        w.element.set(w.property, moddle.create("bpmn:DataInput", { id: w.value }));
      }
    });
  }

  // ---- start ---------------------------------------------------------------------------------
  window.tourflowModelerPage = {
    modeler: modeler, context: context, forms: forms, lintSoon: lintSoon, el: el, csrfToken: csrfToken,
    previewUrl: data.previewUrl, texts: JSON.parse(document.getElementById("modeler-texts").textContent)
  };
  function load(xml) {
    return modeler.importXML(xml).then(function (result) {
      keepNamedReferences(result.warnings);
      return result;
    });
  }
  window.tourflowModelerPage.load = load;

  load(data.xml).then(function () {
    canvas.zoom("fit-viewport", "auto");
    root.setAttribute("data-state", "ready");
    modeler.get("eventBus").on("commandStack.changed", lintSoon);
    document.dispatchEvent(new CustomEvent("tourflow:modeler-ready"));
    lintNow();
  }).catch(function (err) {
    root.setAttribute("data-state", "error");
    say(t("loadFailed") + ": " + (err && err.message ? err.message : err), true);
  });
}());

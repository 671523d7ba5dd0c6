/*
 * The modeler's form editor (the #form-editor dialog of templates/processes/edit.html): a user
 * task's JSON Schema built field by field (or edited as JSON), with a live preview drawn by the
 * server exactly as the task page draws it (POST /api/v1/forms/preview).
 *
 * window.tourflowFormEditor.open(fileName, schema, onApply): onApply(fileName, schema) when the
 * owner saves. A field the builder does not know (an array, a pattern of its own...) keeps every
 * keyword it has: the builder only sets title, type, format, enum and length on what it shows.
 * The preview element's data-round counts the previews drawn (tests wait on it).
 */
(function () {
  "use strict";

  var dialog = document.getElementById("form-editor");
  if (!dialog) { return; }
  var PREVIEW_DELAY_MS = 300;
  var KEY = /^[a-z][a-z0-9_]{0,63}$/;
  var FILE = /^[A-Za-z0-9_-]{1,100}\.schema\.json$/;
  var KINDS = ["text", "long", "number", "integer", "date", "datetime", "bool", "choice"];
  var build = document.getElementById("form-editor-build");
  var preview = document.getElementById("form-preview");
  var problemsList = dialog.querySelector(".form-preview-problems");
  var errorLine = dialog.querySelector(".form-editor-error");
  var state = null;  // {file, title, description, fields: [{key, title, kind, required, options, prop}], extra, onApply}
  var previewTimer = null;
  var previewRequest = 0;

  function page() { return window.tourflowModelerPage; }
  function t(key) { return page().texts[key] || key; }
  function el(tag, className, text) { return page().el(tag, className, text); }

  function kindOf(prop) {
    if (!prop || typeof prop !== "object") { return null; }
    var type = prop.type;
    if (Array.isArray(prop.enum) && (type === "string" || type === undefined)) { return "choice"; }
    if (type === "boolean") { return "bool"; }
    if (type === "number" || type === "integer") { return type; }
    if (type !== "string" || prop.pattern) { return null; }
    if (prop.format === "date") { return "date"; }
    if (prop.format === "date-time") { return "datetime"; }
    if (prop.format) { return null; }
    return (prop.maxLength || 0) > 200 ? "long" : "text";
  }

  function fromSchema(file, schema, onApply) {
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var extra = {};
    Object.keys(schema || {}).forEach(function (k) {
      if (["title", "description", "properties", "required"].indexOf(k) < 0) { extra[k] = schema[k]; }
    });
    return {
      file: file, title: (schema && schema.title) || "", description: (schema && schema.description) || "",
      extra: extra, onApply: onApply,
      fields: Object.keys(props).map(function (key) {
        var prop = props[key];
        return { key: key, title: (prop && prop.title) || "", kind: kindOf(prop), required: required.indexOf(key) >= 0,
                 options: prop && Array.isArray(prop.enum) ? prop.enum.join("\n") : "", prop: prop };
      })
    };
  }

  function propOf(field) {
    var prop = JSON.parse(JSON.stringify(field.prop || {}));
    if (field.title) { prop.title = field.title; } else { delete prop.title; }
    if (field.kind === null) { return prop; }  // a field the builder does not know: kept as written
    ["enum", "format", "maxLength", "minLength"].forEach(function (k) { delete prop[k]; });
    var kind = field.kind;
    prop.type = kind === "bool" ? "boolean" : kind === "number" || kind === "integer" ? kind : "string";
    if (kind === "text" || kind === "long") {
      prop.maxLength = kind === "long" ? 2000 : 200;
      if (field.required) { prop.minLength = 1; }
    }
    if (kind === "date") { prop.format = "date"; }
    if (kind === "datetime") { prop.format = "date-time"; }
    if (kind === "choice") {
      prop.enum = field.options.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    }
    return prop;
  }

  function toSchema() {
    var schema = { "$schema": "https://json-schema.org/draft/2020-12/schema" };
    Object.keys(state.extra).forEach(function (k) { schema[k] = state.extra[k]; });
    if (state.title) { schema.title = state.title; }
    if (state.description) { schema.description = state.description; }
    schema.type = "object";
    schema.properties = {};
    state.fields.forEach(function (f) { schema.properties[f.key] = propOf(f); });
    schema.required = state.fields.filter(function (f) { return f.required; }).map(function (f) { return f.key; });
    if (!("additionalProperties" in schema)) { schema.additionalProperties = false; }
    return schema;
  }

  // ---- the builder -----------------------------------------------------------------------------
  function labelled(text, input, className) {
    var label = el("label", className || "field");
    label.appendChild(el("span", "field-label", text));
    label.appendChild(input);
    return label;
  }

  function input(value, onInput, attrs) {
    var node = el("input");
    node.type = "text";
    node.value = value || "";
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    node.addEventListener("input", function () { onInput(node.value); changed(false); });
    return node;
  }

  function fieldRow(field, index) {
    var row = el("li", "form-field-row");
    row.setAttribute("data-key", field.key);
    row.appendChild(labelled(t("fieldKey"), input(field.key, function (v) { field.key = v.trim(); },
                                                       { "data-part": "key", spellcheck: "false" })));
    row.appendChild(labelled(t("fieldTitle"), input(field.title, function (v) { field.title = v; },
                                                         { "data-part": "title" })));
    var kind = el("select");
    kind.setAttribute("data-part", "kind");
    if (field.kind === null) { kind.appendChild(new Option("JSON", "")); kind.disabled = true; }
    KINDS.forEach(function (k) {
      kind.appendChild(new Option(t("type" + { text: "Text", long: "Long", number: "Number", integer: "Integer",
        date: "Date", datetime: "DateTime", bool: "Bool", choice: "Choice" }[k]), k, false, field.kind === k));
    });
    kind.addEventListener("change", function () { field.kind = kind.value; changed(true); });
    row.appendChild(labelled(t("fieldType"), kind));
    var required = el("input");
    required.type = "checkbox";
    required.checked = field.required;
    required.setAttribute("data-part", "required");
    required.addEventListener("change", function () { field.required = required.checked; changed(false); });
    row.appendChild(labelled(t("fieldRequired"), required, "field field-check"));
    if (field.kind === "choice") {
      var options = el("textarea");
      options.rows = 3;
      options.value = field.options;
      options.setAttribute("data-part", "options");
      options.addEventListener("input", function () { field.options = options.value; changed(false); });
      row.appendChild(labelled(t("fieldOptions"), options, "field field-wide"));
    }
    var tools = el("div", "form-field-tools");
    if (index > 0) {
      var up = el("button", "ghost small", t("up"));
      up.type = "button";
      up.addEventListener("click", function () {
        state.fields.splice(index - 1, 0, state.fields.splice(index, 1)[0]);
        changed(true);
      });
      tools.appendChild(up);
    }
    var remove = el("button", "ghost small danger", t("remove"));
    remove.type = "button";
    remove.setAttribute("data-part", "remove");
    remove.addEventListener("click", function () { state.fields.splice(index, 1); changed(true); });
    tools.appendChild(remove);
    row.appendChild(tools);
    return row;
  }

  function render() {
    build.textContent = "";
    var head = el("div", "form-editor-meta");
    head.appendChild(labelled(t("formFile"), input(state.file, function (v) { state.file = v.trim(); },
                                                        { id: "form-file", spellcheck: "false" })));
    head.appendChild(labelled(t("formTitle"), input(state.title, function (v) { state.title = v; },
                                                         { id: "form-title" })));
    build.appendChild(head);
    build.appendChild(el("h3", null, t("fields")));
    var list = el("ol", "form-field-list");
    state.fields.forEach(function (f, i) { list.appendChild(fieldRow(f, i)); });
    if (!state.fields.length) { list.appendChild(el("li", "muted", t("noFields"))); }
    build.appendChild(list);
    var add = el("button", "ghost", "＋ " + t("addField"));
    add.type = "button";
    add.setAttribute("data-form-action", "add-field");
    add.addEventListener("click", function () {
      var n = state.fields.length + 1;
      while (state.fields.some(function (f) { return f.key === "field_" + n; })) { n += 1; }
      state.fields.push({ key: "field_" + n, title: "", kind: "text", required: true, options: "", prop: null });
      changed(true);
      var rows = build.querySelectorAll(".form-field-row [data-part=title]");
      if (rows.length) { rows[rows.length - 1].focus(); }
    });
    build.appendChild(add);
    var advanced = el("details", "form-editor-json");
    advanced.appendChild(el("summary", null, t("schemaJson")));
    var json = el("textarea", "mono");
    json.id = "form-json";
    json.rows = 14;
    json.spellcheck = false;
    json.value = JSON.stringify(toSchema(), null, 2);
    json.addEventListener("change", function () {
      try {
        var parsed = JSON.parse(json.value);
        state = fromSchema(state.file, parsed, state.onApply);
        say("");
        changed(true, true);
      } catch (err) {
        say(t("jsonInvalid") + ": " + err.message);
      }
    });
    advanced.appendChild(json);
    build.appendChild(advanced);
  }

  function say(message) {
    errorLine.textContent = message;
    errorLine.hidden = !message;
  }

  function problems() {
    if (!FILE.test(state.file)) { return t("fileInvalid"); }
    var seen = {};
    for (var i = 0; i < state.fields.length; i += 1) {
      var key = state.fields[i].key;
      if (!KEY.test(key)) { return t("keyInvalid") + ": " + key; }
      if (seen[key]) { return t("keyTaken").replace("{key}", key); }
      seen[key] = true;
    }
    return "";
  }

  function changed(redraw, keepJson) {
    if (redraw) {
      var open = build.querySelector(".form-editor-json") && build.querySelector(".form-editor-json").open;
      render();
      if (open || keepJson) { build.querySelector(".form-editor-json").open = true; }
    } else {
      var json = document.getElementById("form-json");
      if (json) { json.value = JSON.stringify(toSchema(), null, 2); }
    }
    say(problems());
    if (previewTimer) { clearTimeout(previewTimer); }
    previewTimer = setTimeout(drawPreview, PREVIEW_DELAY_MS);
  }

  function drawPreview() {
    previewTimer = null;
    var mine = ++previewRequest;
    fetch(page().previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": page().csrfToken(),
                 "Accept-Language": document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en" },
      body: JSON.stringify({ schema: toSchema() })
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (body) {
      if (mine !== previewRequest) { return; }
      preview.innerHTML = body.html;  // the server's template output: escaped, no scripts
      problemsList.textContent = "";
      body.problems.forEach(function (p) { problemsList.appendChild(el("li", null, p)); });
      preview.setAttribute("data-round", String(Number(preview.getAttribute("data-round")) + 1));
      preview.setAttribute("data-valid", body.valid ? "true" : "false");
    }).catch(function (err) {
      if (mine === previewRequest) { problemsList.textContent = t("previewFailed") + ": " + err.message; }
    });
  }

  dialog.querySelectorAll("[data-form-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-form-action");
      if (action === "cancel") { dialog.close(); return; }
      if (action !== "apply") { return; }
      var why = problems();
      if (why) { say(why); return; }
      state.onApply(state.file, toSchema());
      dialog.close();
    });
  });

  window.tourflowFormEditor = {
    open: function (file, schema, onApply) {
      var parsed = schema;
      if (typeof schema === "string") {  // a draft's form that is not JSON: start from its text
        try { parsed = JSON.parse(schema); } catch (err) { parsed = {}; }
      }
      state = fromSchema(file, parsed || {}, onApply);
      preview.textContent = "";
      dialog.showModal();
      changed(true);
    }
  };
}());

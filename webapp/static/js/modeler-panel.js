/*
 * The modeler's properties panel (#props-panel): what tourflow reads from the selected element,
 * edited through bpmn-js commands (so undo, redo and the live lint follow every change).
 *
 *   every element  id, name, documentation (the SOP staff read, one numbered step per line)
 *   lane           its role (a lane id is a role id), from the roles the agency has
 *   task           its type (user, service, script, plain)
 *   user task      its form (pick one of the process's forms, or make one in the form editor),
 *                  an optional assignee expression
 *   service task   its handler, from the registered handlers: what it does, its parameters (one
 *                  input each), its result keys and the processes already using it
 *   timer event    duration, date or cycle, with the usual expressions one click away
 *   sequence flow  its condition, and "default" when it leaves an exclusive or inclusive gateway
 *   message event  the message name (shared across processes: those in use are offered) and,
 *                  when it throws, the payload expression
 *
 * tourflow's extensions live in spiffworkflow:* elements that bpmn-js keeps as generic elements;
 * the panel replaces them whole (never edits one in place), so the command stack can undo it.
 */
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var FORM_PROPERTY = "formJsonSchemaFilename";
  var ASSIGNEE_PROPERTY = "assigneeExpression";
  var ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
  var panel = document.getElementById("props-panel");
  if (!panel) { return; }

  document.addEventListener("tourflow:modeler-ready", function () {
    var page = window.tourflowModelerPage;
    var modeler = page.modeler;
    var modeling = modeler.get("modeling");
    var moddle = modeler.get("moddle");
    var registry = modeler.get("elementRegistry");
    var context = page.context;
    var current = null;
    var own = false;  // the panel's own command is running: the panel is up to date already

    function act(fn, redraw) {
      own = true;
      try { fn(); } finally { own = false; }
      if (redraw) { render(registry.get(current.id) || current); }
    }

    function t(key) { return page.texts[key] || key; }
    function el(tag, className, text) { return page.el(tag, className, text); }
    function is(element, type) { return element && element.businessObject && element.businessObject.$instanceOf(type); }

    // ---- extension elements ----------------------------------------------------------------
    function extension(element, type) {
      var ext = element.businessObject.extensionElements;
      return ext && ext.values ? ext.values.filter(function (v) { return v.$type === type; })[0] : undefined;
    }

    function setExtension(element, type, made) {
      var ext = element.businessObject.extensionElements;
      var values = ext && ext.values ? ext.values.slice() : [];
      var at = values.findIndex(function (v) { return v.$type === type; });
      if (at >= 0) { values.splice(at, 1); } else { at = values.length; }
      if (made) { values.splice(at, 0, made); }
      var replacement = values.length ? moddle.create("bpmn:ExtensionElements", { values: values }) : undefined;
      modeling.updateProperties(element, { extensionElements: replacement });
    }

    function generic(type, attrs, children, body) {
      var node = moddle.createAny(type, SPIFF, attrs || {});
      if (children && children.length) { node.$children = children; }
      if (body !== undefined) { node.$body = body; }
      return node;
    }

    function properties(element) {
      var holder = extension(element, "spiffworkflow:properties");
      var out = {};
      ((holder && holder.$children) || []).forEach(function (p) { out[p.name] = p.value; });
      return out;
    }

    function setProperty(element, name, value) {
      var holder = extension(element, "spiffworkflow:properties");
      var kept = ((holder && holder.$children) || []).filter(function (p) { return p.name !== name; })
        .map(function (p) { return generic("spiffworkflow:property", { name: p.name, value: p.value }); });
      var old = ((holder && holder.$children) || []).map(function (p) { return p.name; });
      if (value) {
        var made = generic("spiffworkflow:property", { name: name, value: value });
        var at = old.indexOf(name);
        kept.splice(at >= 0 ? at : kept.length, 0, made);
      }
      setExtension(element, "spiffworkflow:properties", kept.length ? generic("spiffworkflow:properties", {}, kept) : null);
    }

    // ---- small widgets ---------------------------------------------------------------------
    function row(label, control, help, name) {
      var wrap = el("div", "prop-row");
      if (name) { wrap.setAttribute("data-prop", name); }
      var id = "prop-" + (name || Math.random().toString(36).slice(2));
      var caption = el("label", "prop-label", label);
      caption.htmlFor = id;
      control.id = control.id || id;
      wrap.appendChild(caption);
      wrap.appendChild(control);
      if (help) { wrap.appendChild(el("p", "help", help)); }
      panel.appendChild(wrap);
      return wrap;
    }

    function text(value, onCommit, multiline, attrs) {
      var node = el(multiline ? "textarea" : "input");
      if (!multiline) { node.type = "text"; } else { node.rows = multiline; }
      node.value = value || "";
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      node.addEventListener("change", function () { act(function () { onCommit(node.value); }); });
      return node;
    }

    function select(options, chosen, onChange) {
      var node = el("select");
      options.forEach(function (o) {
        var option = new Option(o.label, o.value, false, o.value === chosen);
        if (o.disabled) { option.disabled = true; }
        node.appendChild(option);
      });
      node.addEventListener("change", function () { act(function () { onChange(node.value); }, true); });
      return node;
    }

    function button(label, onClick, className) {
      var node = el("button", className || "ghost small", label);
      node.type = "button";
      node.addEventListener("click", onClick);
      return node;
    }

    function expression(body) { return moddle.create("bpmn:FormalExpression", { body: body }); }

    // ---- sections --------------------------------------------------------------------------
    function common(element) {
      var bo = element.businessObject;
      var id = text(bo.id, function (value) {
        value = value.trim();
        if (!ID.test(value)) { alert(t("idInvalid")); render(element); return; }
        if (value !== bo.id && registry.get(value)) { alert(t("idTaken").replace("{id}", value)); render(element); return; }
        modeling.updateProperties(element, { id: value });
        panel.setAttribute("data-element", value);
      }, 0, { spellcheck: "false", "class": "mono" });
      row(t("id"), id, t("idHelp"), "id");
      if (!is(element, "bpmn:Process") && !is(element, "bpmn:Collaboration")) {
        row(t("name"), text(bo.name, function (value) { modeling.updateLabel(element, value); }), null, "name");
      }
      if (is(element, "bpmn:Lane") || element.type === "label") { return; }
      var docs = (bo.documentation || []).map(function (d) { return d.text; }).join("\n");
      var area = text(docs, function (value) {
        var documentation = value.trim() ? [moddle.create("bpmn:Documentation", { text: value })] : [];
        modeling.updateProperties(element, { documentation: documentation });
      }, 5);
      var wrap = row(t("sop"), area, t("sopHelp"), "documentation");
      wrap.appendChild(button(t("numberLines"), function () {
        var n = 0;
        area.value = area.value.split("\n").map(function (line) {
          var bare = line.replace(/^\s*[(（]\s*\d+\s*[)）]\s*/, "").trim();
          if (!bare) { return ""; }
          n += 1;
          return "（" + n + "）" + bare;
        }).filter(Boolean).join("\n");
        area.dispatchEvent(new Event("change"));
      }));
    }

    function lane(element) {
      var others = registry.filter(function (e) { return is(e, "bpmn:Lane") && e !== element; })
        .map(function (e) { return e.id; });
      var known = context.roles.some(function (r) { return r.id === element.id; });
      var options = known ? [] : [{ value: element.id, label: element.id }];
      context.roles.forEach(function (r) {
        var used = others.indexOf(r.id) >= 0;
        options.push({ value: r.id, label: r.name + " · " + r.id + (used ? " " + t("roleUsed") : ""), disabled: used });
      });
      row(t("role"), select(options, element.id, function (role) {
        var named = context.roles.filter(function (r) { return r.id === role; })[0];
        var props = { id: role };
        if (named && (!element.businessObject.name || element.businessObject.name === element.id)) { props.name = named.name; }
        modeling.updateProperties(element, props);
      }), t("roleHelp"), "role");
    }

    function taskType(element) {
      var types = [["bpmn:UserTask", "userTask"], ["bpmn:ServiceTask", "serviceTask"], ["bpmn:ScriptTask", "scriptTask"],
                   ["bpmn:Task", "plainTask"]];
      var chosen = element.type;
      var options = types.map(function (p) { return { value: p[0], label: t(p[1]) }; });
      if (!types.some(function (p) { return p[0] === chosen; })) { options.unshift({ value: chosen, label: chosen }); }
      row(t("taskType"), select(options, chosen, function (type) {
        var made = modeler.get("bpmnReplace").replaceElement(element, { type: type });
        modeler.get("selection").select(made);
      }), null, "task-type");
    }

    function userTask(element) {
      var props = properties(element);
      var chosen = props[FORM_PROPERTY] || "";
      // A SpiffArena UI schema (…-uischema.json) travels with the forms but is no form itself.
      var names = Object.keys(page.forms).filter(function (n) { return !/-uischema\.json$/.test(n); }).sort();
      var options = [{ value: "", label: t("noForm") }].concat(names.map(function (n) { return { value: n, label: n }; }));
      if (chosen && names.indexOf(chosen) < 0) { options.push({ value: chosen, label: chosen + " ⚠" }); }
      options.push({ value: "__new__", label: t("newForm") });
      var picker = select(options, chosen, function (value) {
        if (value === "__new__") { editForm(element, null); picker.value = chosen; return; }
        setProperty(element, FORM_PROPERTY, value);
      });
      var wrap = row(t("form"), picker, null, "form");
      if (chosen) { wrap.appendChild(button(t("editForm"), function () { editForm(element, chosen); })); }
      row(t("assignee"), text(props[ASSIGNEE_PROPERTY], function (value) {
        setProperty(element, ASSIGNEE_PROPERTY, value.trim());
      }, 0, { spellcheck: "false", "class": "mono" }), t("assigneeHelp"), "assignee");
    }

    function editForm(element, file) {
      var name = file || element.id + ".schema.json";
      var schema = file ? page.forms[file] : {
        title: element.businessObject.name || "", type: "object", properties: {}, required: [],
        additionalProperties: false
      };
      window.tourflowFormEditor.open(name, schema, function (newName, newSchema) {
        page.forms[newName] = newSchema;
        if (properties(element)[FORM_PROPERTY] !== newName) {
          setProperty(element, FORM_PROPERTY, newName);  // a command: lint runs on it
        } else {
          page.lintSoon();
          render(element);
        }
      });
    }

    function serviceTask(element) {
      var operator = extension(element, "spiffworkflow:serviceTaskOperator");
      var chosen = operator ? operator.id : "";
      var handler = context.handlers.filter(function (h) { return h.name === chosen; })[0];
      var options = [{ value: "", label: t("noHandler") }].concat(context.handlers.map(function (h) {
        return { value: h.name, label: h.name + " · " + h.summary.slice(0, 40) };
      }));
      if (chosen && !handler) { options.push({ value: chosen, label: chosen + " ⚠" }); }
      var values = {};
      var holder = operator && (operator.$children || []).filter(function (c) { return c.$type === "spiffworkflow:parameters"; })[0];
      ((holder && holder.$children) || []).forEach(function (p) { values[p.id] = p.value; });
      var resultVariable = operator ? operator.resultVariable : element.id + "_result";

      function save(name, params, result) {
        if (!name) { setExtension(element, "spiffworkflow:serviceTaskOperator", null); return; }
        var children = Object.keys(params).filter(function (k) { return params[k] !== ""; }).map(function (k) {
          return generic("spiffworkflow:parameter", { id: k, type: "any", value: params[k] });
        });
        setExtension(element, "spiffworkflow:serviceTaskOperator", generic("spiffworkflow:serviceTaskOperator",
          { id: name, resultVariable: result || element.id + "_result" }, [generic("spiffworkflow:parameters", {}, children)]));
      }

      row(t("handler"), select(options, chosen, function (name) { save(name, {}, resultVariable); }), null, "handler");
      if (!handler) { return; }
      var about = el("div", "handler-about");
      about.appendChild(el("p", null, handler.summary));
      about.appendChild(el("p", "muted small", (handler.writes ? t("writes") : t("readsOnly")) +
        " · " + t("usedBy") + ": " + (handler.used_by.join(", ") || "—")));
      about.appendChild(el("p", "small", t("results") + ": " +
        (handler.results ? handler.results.join(", ") || "—" : t("resultsUnknown"))));
      panel.appendChild(about);
      row(t("resultVariable"), text(resultVariable, function (value) {
        save(chosen, values, value.trim());
      }, 0, { spellcheck: "false", "class": "mono" }), null, "result-variable");
      if (handler.parameters.length) { panel.appendChild(el("h3", "prop-sub", t("parameters"))); }
      handler.parameters.forEach(function (p) {
        var label = p.name + (p.required ? " *" : "") + (p.type ? " (" + p.type + ")" : "");
        row(label, text(values[p.name], function (value) {
          values[p.name] = value.trim();
          save(chosen, values, resultVariable);
        }, 0, { spellcheck: "false", "class": "mono", placeholder: p.required ? "" : JSON.stringify(p.default) }),
        null, "param-" + p.name);
      });
      if (handler.parameters.length) { panel.appendChild(el("p", "help", t("parameterHelp"))); }
    }

    // An ISO 8601 literal typed bare (PT1H, 2026-12-01T09:00:00+08:00, R3/PT1H) is an expression
    // only once quoted: quote it for the owner (lint's timer-unquoted rule names the same mistake).
    var ISO_LITERAL = /^(R\d*\/)?(P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?|\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)(\/.*)?$/;

    function quoted(body) {
      return ISO_LITERAL.test(body) ? "\"" + body + "\"" : body;
    }

    function timer(element, definition) {
      var kinds = ["timeDuration", "timeDate", "timeCycle"];
      var kind = kinds.filter(function (k) { return definition[k]; })[0] || "timeDuration";
      var body = definition[kind] ? definition[kind].body : "";
      function save(newKind, newBody) {
        var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
        props[newKind] = expression(newBody);
        modeling.updateModdleProperties(element, definition, props);
      }
      row(t("timerKind"), select(kinds.map(function (k) { return { value: k, label: t(k) }; }), kind,
        function (value) { save(value, body); }), null, "timer-kind");
      var field = text(body, function (value) {
        var expression = quoted(value.trim());
        if (expression !== value.trim()) { field.value = expression; note.hidden = false; }
        save(kind, expression);
      }, 2, { spellcheck: "false", "class": "mono" });
      var wrap = row(t("expression"), field, t("timerHelp"), "timer-expression");
      var note = wrap.appendChild(el("p", "help prop-quoted", t("quotedForYou")));
      note.hidden = true;
      var helpers = el("div", "prop-helpers");
      helpers.appendChild(el("span", "muted small", t("helpers") + "："));
      var samples = kind === "timeDuration" ? [["oneHour", "\"PT1H\""], ["oneDay", "\"P1D\""]]
        : kind === "timeDate" ? [["oneWorkingHour", "add_working_hours(now_iso(), 1)"], ["dataKeyTime", "due_at"]]
          : [["everyDay", "\"R/P1D\""]];
      samples.forEach(function (s) {
        helpers.appendChild(button(t(s[0]), function () { field.value = s[1]; act(function () { save(kind, s[1]); }); }));
      });
      wrap.appendChild(helpers);
    }

    function flow(element) {
      var source = element.businessObject.sourceRef;
      if (!source || !(source.$instanceOf("bpmn:ExclusiveGateway") || source.$instanceOf("bpmn:InclusiveGateway"))) { return; }
      var condition = element.businessObject.conditionExpression;
      row(t("condition"), text(condition ? condition.body : "", function (value) {
        modeling.updateProperties(element, { conditionExpression: value.trim() ? expression(value.trim()) : undefined });
      }, 2, { spellcheck: "false", "class": "mono" }), t("conditionHelp"), "condition");
      var box = el("input");
      box.type = "checkbox";
      box.checked = source.default === element.businessObject;
      box.addEventListener("change", function () {
        act(function () {
          modeling.updateProperties(registry.get(source.id), { "default": box.checked ? element.businessObject : undefined });
        });
      });
      row(t("defaultFlow"), box, null, "default-flow");
    }

    function message(element, definition) {
      var ref = definition.messageRef;
      var names = {};
      context.messages.forEach(function (m) { names[m.name] = m.processes; });
      modeler.getDefinitions().rootElements.forEach(function (r) {
        if (r.$type === "bpmn:Message" && r.name && !names[r.name]) { names[r.name] = []; }
      });
      var listId = "message-names";
      var list = document.getElementById(listId) || document.body.appendChild(el("datalist"));
      list.id = listId;
      list.textContent = "";
      Object.keys(names).sort().forEach(function (n) { list.appendChild(new Option(n, n)); });
      var field = text(ref ? ref.name : "", function (value) {
        value = value.trim();
        var definitions = modeler.getDefinitions();
        var found = definitions.rootElements.filter(function (r) { return r.$type === "bpmn:Message" && r.name === value; })[0];
        if (value && !found) {
          found = moddle.create("bpmn:Message", { id: "msg_" + value.replace(/[^A-Za-z0-9_]/g, "_"), name: value });
          found.$parent = definitions;
          definitions.rootElements.push(found);
        }
        modeling.updateModdleProperties(element, definition, { messageRef: found || undefined });
      }, 0, { list: listId, spellcheck: "false", "class": "mono" });
      var wrap = row(t("message"), field, t("messageHelp"), "message");
      if (ref && names[ref.name] && names[ref.name].length) {
        wrap.appendChild(el("p", "muted small", t("messageUsedBy") + ": " + names[ref.name].join(", ")));
      }
      if (is(element, "bpmn:IntermediateThrowEvent") || is(element, "bpmn:EndEvent") || is(element, "bpmn:SendTask")) {
        var payload = extension(element, "spiffworkflow:messagePayload");
        row(t("payload"), text(payload ? payload.$body : "", function (value) {
          setExtension(element, "spiffworkflow:messagePayload",
                       value.trim() ? generic("spiffworkflow:messagePayload", {}, null, value.trim()) : null);
        }, 3, { spellcheck: "false", "class": "mono" }), t("payloadHelp"), "payload");
      }
    }

    // ---- the panel -------------------------------------------------------------------------
    function render(element) {
      current = element;
      panel.textContent = "";
      if (!element) {
        panel.setAttribute("data-element", "");
        panel.appendChild(el("p", "muted", t("nothingSelected")));
        return;
      }
      panel.setAttribute("data-element", element.id);
      panel.setAttribute("data-type", element.type);
      panel.appendChild(el("p", "prop-kind muted small", element.type.replace("bpmn:", "")));
      common(element);
      if (is(element, "bpmn:Lane")) { lane(element); }
      if (is(element, "bpmn:Task") && !is(element, "bpmn:CallActivity")) { taskType(element); }
      if (is(element, "bpmn:UserTask")) { userTask(element); }
      if (is(element, "bpmn:ServiceTask")) { serviceTask(element); }
      if (is(element, "bpmn:SequenceFlow")) { flow(element); }
      (element.businessObject.eventDefinitions || []).forEach(function (definition) {
        if (definition.$type === "bpmn:TimerEventDefinition") { timer(element, definition); }
        if (definition.$type === "bpmn:MessageEventDefinition") { message(element, definition); }
      });
    }

    var eventBus = modeler.get("eventBus");
    eventBus.on("selection.changed", function (event) {
      var chosen = event.newSelection.length === 1 ? event.newSelection[0] : null;
      render(chosen && chosen.type === "label" ? chosen.labelTarget : chosen);
    });
    eventBus.on("elements.changed", function (event) {  // undo, redo, edits on the canvas
      if (!current || own) { return; }
      var touched = event.elements.some(function (e) { return e === current || e.id === current.id; });
      if (touched) { render(registry.get(current.id) || null); }
    });
    render(null);
  });
}());

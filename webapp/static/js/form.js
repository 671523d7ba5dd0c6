// Fields the form's JSON Schema requires only in some cases (if/then/else on another field's
// value, see webapp/form_fields.py `required_when`): mark them required, with their asterisk,
// while that case holds. The server checks every rule again; this only helps while typing.
(function () {
  "use strict";
  var fields = document.querySelectorAll("[data-required-when]");
  if (!fields.length) { return; }
  var form = fields[0].closest("form");

  function valueOf(name) {
    var controls = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if ((c.type === "radio" || c.type === "checkbox")) {
        if (c.checked) { return c.value; }
      } else {
        return c.value;
      }
    }
    return null;
  }

  function holds(rule) {
    var value = valueOf(rule.field);
    if (value === null || value === "") { return false; }  // the schema tests a present value only
    var found = rule["in"].indexOf(value) >= 0;
    return rule["not"] ? !found : found;
  }

  function update() {
    fields.forEach(function (box) {
      var rules = JSON.parse(box.getAttribute("data-required-when"));
      var needed = rules.some(holds);
      box.querySelectorAll("input, select, textarea").forEach(function (c) {
        if (c.type === "hidden" || c.type === "checkbox") { return; }
        c.required = needed;
      });
      var star = box.querySelector(".req");
      if (star) { star.hidden = !needed; }
      box.classList.toggle("required-now", needed);
    });
  }

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
})();

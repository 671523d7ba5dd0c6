"""Every lint message in English and Chinese: a catalogue of templates with named parameters.

A rule says what it found as `msg("key", name=value, ...)`; the Finding keeps that `Text` and
renders it in either language (English is `Finding.message`, as `tourflow lint` prints it).
Adding a message is one line in `MESSAGES`: key -> (English, Chinese). Ids, file names and
expressions go in as parameters, so both languages show them verbatim. A parameter may itself
be a `Text` or a `Term` (an element kind such as userTask), rendered in the same language.
tests/test_lint_messages.py fails when a key used in engine/bpmn has no entry or no Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter

LANGS = ("en", "zh")

MESSAGES: dict[str, tuple[str, str]] = {
    # how a message names an element
    "element": ("{kind} '{id}'", "{kind} '{id}'"),
    "element.named": ("{kind} '{id}' ({name})", "{kind} '{id}'（{name}）"),
    "the-document": ("the document", "文档"),
    "none": ("none", "无"),
    # reading the file
    "xml.read-error": ("{detail}", "无法读取 BPMN 文件：{detail}"),
    "xml.unreadable-file": ("cannot read file: {reason}", "无法读取文件：{reason}"),
    "xml.unreadable": ("cannot read the file: {error}", "无法读取该文件：{error}"),
    "lint-internal.index": ("cannot index the file: {error}", "无法为该文件建立索引：{error}"),
    "lint-internal.rule": ("rule {rule} failed: {error}", "检查规则 {rule} 出错：{error}"),
    "spiff-parse": ("SpiffWorkflow cannot parse the process: {detail}", "SpiffWorkflow 无法解析该流程：{detail}"),
    "spiff-parse.at": ("SpiffWorkflow cannot parse the process at {tag} '{id}': {detail}",
                       "SpiffWorkflow 无法解析该流程（{tag} '{id}' 处）：{detail}"),
    # file and process
    "no-process.none": ("no bpmn:process in the file", "文件中没有流程（bpmn:process）"),
    "not-executable": ("process '{process}' is not executable, and no other process of the file is: tick "
                       "\"Executable\" in the modeler's properties panel (isExecutable=\"true\")",
                       "流程 '{process}' 不可执行，文件中也没有其他可执行的流程：请在建模工具的属性面板中勾选"
                       "“可执行（Executable）”（isExecutable=\"true\"）"),
    "collaboration-only": ("the file has pools (a bpmn:collaboration) but no bpmn:process to run: model the "
                           "process inside a pool, or export the process, not only the collaboration",
                           "文件中有泳池（bpmn:collaboration），但没有可运行的流程（bpmn:process）："
                           "请在泳池中建模流程，或导出流程而不只是协作图"),
    "call-target-missing": ("{element} calls process '{called}', which is in none of the files deployed "
                            "together and is not deployed: deploy '{called}' with it or first",
                            "{element}调用的流程 '{called}' 不在同时部署的文件中，也尚未部署："
                            "请与它一起部署或先部署 '{called}'"),
    "process-id-mismatch": ("process id '{process}' differs from the file name '{stem}'",
                            "流程 id '{process}' 与文件名 '{stem}' 不一致"),
    "no-pool": ("no bpmn:collaboration with a bpmn:participant whose processRef is '{process}': modelers draw no pool",
                "没有 processRef 为 '{process}' 的 bpmn:collaboration/bpmn:participant：建模工具画不出泳池"),
    "reserved-id": ("{element}: id '{id}' is reserved by SpiffWorkflow; use e.g. '{suggestion}'",
                    "{element}：id '{id}' 是 SpiffWorkflow 的保留名；请改用例如 '{suggestion}'"),
    "duplicate-id": ("id '{id}' is already used at line {line}", "id '{id}' 已在第 {line} 行使用"),
    # due dates (docs/bpmn-conventions.md, "Due dates")
    "due-in.invalid": ("userTask '{task}': dueIn {value!r} is not a positive duration like PT4H, P2D or "
                       "working:P1D (weeks, days, hours, minutes, at most 366 days; no years or months)",
                       "用户任务 '{task}'：dueIn {value!r} 不是有效的办理期限，应写成 PT4H、P2D 或 working:P1D"
                       "（周、天、小时、分钟，大于零且不超过 366 天；不能用年、月）"),
    "due-in.lane-invalid": ("process '{process}': laneDueIn {value!r} must read lane=duration, ... with durations "
                            "like PT4H, P2D or working:P1D (e.g. qc=working:P1D, supervisor=working:PT4H)",
                            "流程 '{process}'：laneDueIn {value!r} 应写成 泳道=期限, ...，期限如 PT4H、P2D 或 "
                            "working:P1D（例如 qc=working:P1D, supervisor=working:PT4H）"),
    "due-in.lane-unknown": ("process '{process}': laneDueIn names lane '{lane}', which is none of {known}",
                            "流程 '{process}'：laneDueIn 中的泳道 '{lane}' 不存在（可用：{known}）"),
    # flow
    "no-start": ("process '{process}' has no start event", "流程 '{process}' 没有开始事件"),
    "no-end": ("process '{process}' has no end event", "流程 '{process}' 没有结束事件"),
    "dangling-flow": ("sequenceFlow '{flow}' {end} is '{ref}', which is not a flow node of the process",
                      "顺序流 '{flow}' 的 {end} 是 '{ref}'，它不是本流程的节点"),
    "dangling-flow.nothing": ("sequenceFlow '{flow}' {end} is nothing", "顺序流 '{flow}' 的 {end} 为空"),
    "unreachable": ("{element} cannot be reached from a start event", "从开始事件无法到达{element}"),
    # diagram
    "missing-di.diagram": ("no bpmndi:BPMNDiagram: the file has no diagram to draw",
                           "没有 bpmndi:BPMNDiagram：文件中没有可绘制的流程图"),
    "missing-di.shape": ("{element} has no bpmndi:BPMNShape", "{element}在图上没有图形（bpmndi:BPMNShape）"),
    "missing-di.bounds": ("the shape of {element} has no valid dc:Bounds", "{element}的图形没有有效的 dc:Bounds"),
    "missing-di.edge": ("sequenceFlow '{flow}' has no bpmndi:BPMNEdge", "顺序流 '{flow}' 在图上没有连线（bpmndi:BPMNEdge）"),
    "overlap.too-many": ("{count} shapes: too many to check for overlaps", "共 {count} 个图形：太多，无法检查是否重叠"),
    "overlap.more": ("more than {limit} overlapping shapes", "重叠的图形超过 {limit} 处"),
    "overlap": ("the shapes of {first} and {second} overlap", "{first}与{second}的图形重叠"),
    # lanes and human tasks
    "lane-missing.none": ("{element} is in no lane's flowNodeRef", "{element}不在任何泳道中（flowNodeRef）"),
    "lane-missing.several": ("{element} is listed in more than one lane: {lanes}", "{element}同时列在多个泳道中：{lanes}"),
    "user-task-in-system-lane": ("{element} is work for a person but sits in the 'system' lane",
                                 "{element}需要人来办理，却放在 'system'（系统）泳道中"),
    # accepting what can run (issue 16): lanes and forms optional, lanes mapped by name (engine/bpmn/lanes.py)
    "lanes.none-default": ("the process has no lanes: its user tasks and start event go to the default lane '{lane}'",
                           "流程没有划分泳道：其用户任务和开始事件归入默认泳道 '{lane}'"),
    "lanes.node-default": ("{element} is in no lane: it goes to the default lane '{lane}'",
                           "{element}不在任何泳道中：归入默认泳道 '{lane}'"),
    "lanes.unknown": ("lane '{lane}' (name '{name}') is no role: its id or name must be a role id or a role's "
                      "Chinese name; roles: {roles}",
                      "泳道 '{lane}'（名称 '{name}'）不对应任何角色：其 id 或名称须为角色 id 或角色中文名；角色：{roles}"),
    "lanes.default-unknown": ("{prop} '{lane}' is no role; roles: {roles} (tasks outside lanes go to '{fallback}')",
                              "{prop} '{lane}' 不是角色；角色：{roles}（泳道外的任务归入 '{fallback}'）"),
    "forms.none": ("{element} has no form (spiffworkflow:property name=\"{prop}\"): its page shows the "
                   "documentation and a confirm button, completing with no data",
                   "{element}没有表单（spiffworkflow:property name=\"{prop}\"）：任务页显示说明和确认按钮，完成时不提交数据"),
    "missing-documentation.none": ("{element} has no bpmn:documentation with its SOP rules (1) ... (2) ...",
                                   "{element}没有写明 SOP 规则的说明（bpmn:documentation）(1) ... (2) ..."),
    "missing-documentation.unnumbered": ("the documentation of {element} has no numbered rules (1) ... (2) ...",
                                         "{element}的说明没有编号的规则 (1) ... (2) ..."),
    # gateways and boundary events
    "gateway-no-default.not-outgoing": ("{element}: default flow '{flow}' is not one of its outgoing flows",
                                        "{element}：默认顺序流 '{flow}' 不是它的出口顺序流"),
    "gateway-no-default": ("{element} has no default flow and no condition on {flows}",
                           "{element}没有默认顺序流，且顺序流 {flows} 上没有条件"),
    "gateway-no-default.unproved": ("{element}: every outgoing flow has a condition and there is no default flow; "
                                    "when all conditions are false the instance stops there",
                                    "{element}的每条出口顺序流都有条件，却没有默认顺序流；条件全不成立时实例会停在这里"),
    "gateway-no-default.uncovered": ("{element}: no condition is true when '{key}' is {values}, and there is no "
                                     "default flow; cover those values or add a default flow",
                                     "{element}：当 '{key}' 为 {values} 时没有任何条件成立，且没有默认顺序流；"
                                     "请覆盖这些取值或添加默认顺序流"),
    "dead-end": ("{element} has no outgoing sequence flow: an instance that gets there never moves on; connect it "
                 "or end the path with an end event",
                 "{element}没有出口顺序流：实例到达这里后将无法继续；请连接后续节点，或以结束事件结束这条路径"),
    "boundary-no-flow": ("{element} has no outgoing sequence flow: when it fires, nothing happens next",
                         "{element}没有出口顺序流：触发后没有任何后续处理"),
    # messages between processes
    "message-uncaught": ("{element} sends message '{message}', which no deployed or linted process catches",
                         "{element}发送消息 '{message}'，但没有任何已部署或本次检查的流程接收它"),
    "message-never-thrown": ("{element} waits for message '{message}', which no linted process sends; if an "
                             "integration sends it, mark the bpmn:message with spiffworkflow:property "
                             "name=\"{prop}\" value=\"true\"",
                             "{element}等待消息 '{message}'，但本次检查的流程都不发送它；如果由外部系统发送，"
                             "请在 bpmn:message 上标记 spiffworkflow:property name=\"{prop}\" value=\"true\""),
    "interrupting-boundary-on-multi-instance": (
        "{element} interrupts the multi-instance {host}: SpiffWorkflow crashes when it fires. Put the timer inside "
        "the subprocess (one per instance), or make it non-interrupting (cancelActivity=\"false\")",
        "{element}会中断多实例的{host}：触发时 SpiffWorkflow 会崩溃。请把定时器放进子流程内（每个实例一个），"
        "或改为非中断（cancelActivity=\"false\"）"),
    # expressions and scripts
    "source": ("{what} of {owner}: {problem} in {snippet!r}", "{owner}的{what}：{problem}，位于 {snippet!r}"),
    "source.parameter": ("parameter '{id}'", "参数 '{id}'"),
    "source.too-deep": ("syntax error: nested too deeply to parse", "语法错误：嵌套太深，无法解析"),
    "script-syntax.empty": ("script of {owner} is empty", "{owner}的脚本为空"),
    "reserved-key.script": ("script of {owner} sets data key '{key}', which breaks SpiffWorkflow's serializer",
                            "{owner}的脚本设置了数据键 '{key}'，这会破坏 SpiffWorkflow 的序列化"),
    # timers
    "timer.where": ("{kind} of {owner}", "{owner}的{kind}"),
    "timer-unquoted.empty": ("{where} is empty", "{where}为空"),
    "timer-unquoted": ("{where} is {source}, written bare: it runs as the literal \"{source}\" (tourflow's own "
                       "processes quote it: timer values are Python expressions)",
                       "{where}是未加引号的 {source}：按字面值 \"{source}\" 运行（本社流程加引号：定时器的值是 Python 表达式）"),
    "timer-invalid.unquoted": ("{where} is {source}: not a valid ISO 8601 {unit} (and timer values are Python "
                               "expressions: a literal is written in quotes)",
                               "{where}是 {source}：不是有效的 ISO 8601 {unit}（定时器的值是 Python 表达式，字面值要加引号）"),
    "timer-invalid": ("{where} {literal!r} is not a valid ISO 8601 {unit}", "{where} {literal!r} 不是有效的 ISO 8601 {unit}"),
    # forms
    "form-invalid.name": ("form of {element}: '{filename}' must be a plain *.json file name in forms/{process}/",
                          "{element}的表单：'{filename}' 必须是 forms/{process}/ 下的普通 *.json 文件名"),
    "form-invalid": ("form {shown} of {element}: {problem}", "{element}的表单 {shown}：{problem}"),
    "form.not-found": ("file not found", "文件不存在"),
    "form.too-large": ("file is larger than {limit} bytes", "文件大于 {limit} 字节"),
    "form.unreadable": ("cannot read file: {reason}", "无法读取文件：{reason}"),
    "form.bad-json": ("not valid JSON: {error} at line {line}", "不是有效的 JSON：{error}（第 {line} 行）"),
    "form.json-too-deep": ("not valid JSON: nested too deeply", "不是有效的 JSON：嵌套太深"),
    "form.bad-schema": ("not a valid JSON Schema (draft 2020-12): {error} (at {where})",
                        "不是有效的 JSON Schema（draft 2020-12）：{error}（位于 {where}）"),
    "form.top-level": ("top level", "顶层"),
    "form.schema-too-deep": ("not a valid JSON Schema: nested too deeply", "不是有效的 JSON Schema：嵌套太深"),
    "form.not-object": ("the schema must have type: object", "表单的 schema 必须是 type: object"),
    "ui-schema.not-object": ("the UI schema must be a JSON object", "UI schema 必须是 JSON 对象"),
    # SpiffArena extensions tourflow cannot run (engine/bpmn/spiffarena.py)
    "spiff-unsupported.dmn": ("{element} calls DMN decision '{decision}' (spiffworkflow:calledDecisionId): tourflow "
                              "runs no DMN; write the rules as gateway conditions or a script task",
                              "{element}调用 DMN 决策 '{decision}'（spiffworkflow:calledDecisionId）：tourflow 不运行 DMN；"
                              "请把规则写成网关条件或脚本任务"),
    "spiff-unsupported.data-store": ("{element} is a SpiffArena data store: tourflow has none; keep shared data "
                                     "behind a handler (a service task)",
                                     "{element}是 SpiffArena 的数据存储：tourflow 不支持；请通过处理器（服务任务）保存共享数据"),
    "spiff-unsupported.signal-button": ("{element} has a signal button (spiffworkflow:signalButtonLabel): tourflow's "
                                        "task page has none; make the choice a form field and a gateway",
                                        "{element}带有信号按钮（spiffworkflow:signalButtonLabel）：tourflow 的任务页没有；"
                                        "请改为表单字段加网关"),
    "spiff-unsupported.guest": ("{element} allows guest access ({extension}): in tourflow only signed-in staff do tasks",
                                "{element}允许访客办理（{extension}）：tourflow 只允许登录的员工办理任务"),
    "reserved-key.form": ("form {shown} of {element} has a field '{key}' at {path}, which breaks SpiffWorkflow's serializer",
                          "{element}的表单 {shown} 在 {path} 有字段 '{key}'，这会破坏 SpiffWorkflow 的序列化"),
    "personal-kind": ("form {shown} of {element}: '{flag}' at {path} is {value}; expected one of {kinds}",
                      "{element}的表单 {shown}：{path} 处的 '{flag}' 是 {value}；应为以下之一：{kinds}"),
    "personal-unflagged": ("form {shown} of {element}: field '{name}' ({path}) looks like personal data; mark it "
                           "\"{flag}\": \"<kind>\" so it is masked for those who may not see it",
                           "{element}的表单 {shown}：字段 '{name}'（{path}）看起来是个人信息；请标记 "
                           "\"{flag}\": \"<kind>\"，以便对无权查看的人遮盖"),
    "routing-field-default.default": (
        "form {shown} of {element}: field '{name}' is read by a gateway condition, so it must start unanswered: "
        "remove its \"default\" and list it in \"required\"",
        "{element}的表单 {shown}：字段 '{name}' 决定网关走向，不能预先作答：请删除其 \"default\"，并将其列入 \"required\""),
    "routing-field-default.optional": (
        "form {shown} of {element}: field '{name}' is read by a gateway condition, so it must be answered: "
        "list it in \"required\"",
        "{element}的表单 {shown}：字段 '{name}' 决定网关走向，必须作答：请将其列入 \"required\""),
    "form-pattern": ("form {shown} of {element}, at {pointer}: {why}", "{element}的表单 {shown}，{pointer} 处：{why}"),
    "form.pattern-at": ("at {pointer}: {why}", "{pointer} 处：{why}"),
    # service tasks and process keys
    "unknown-handler.no-operator": ("{element} has no spiffworkflow:serviceTaskOperator naming its handler",
                                    "{element}没有指明处理器的 spiffworkflow:serviceTaskOperator"),
    "operator-id-clash": ("{element} has the same id as its handler '{name}': SpiffWorkflow then cannot parse it; "
                          "rename the task (e.g. '{name}_task')",
                          "{element}的 id 与其处理器 '{name}' 相同：SpiffWorkflow 将无法解析；"
                          "请给任务改名（例如 '{name}_task'）"),
    "unknown-handler.registry": ("cannot check handler '{name}': {problem}", "无法检查处理器 '{name}'：{problem}"),
    "handler.registry-failed": ("the handler registry failed to load: {error}", "处理器注册表加载失败：{error}"),
    "unknown-handler": ("handler '{name}' of {element} is not registered by any handler plug-in (registered: {listed})",
                        "{element}的处理器 '{name}' 没有被任何处理器插件注册（已注册：{listed}）"),
    "reserved-key.result": ("{element} stores its result under '{key}', which breaks SpiffWorkflow's serializer",
                            "{element}把结果存到 '{key}' 下，这会破坏 SpiffWorkflow 的序列化"),
    "process-keys": ("{name} of process '{process}' lists {key!r}: a comma-separated list of data keys (identifiers)",
                     "流程 '{process}' 的 {name} 列出了 {key!r}：应为逗号分隔的数据键（标识符）列表"),
    # files from Camunda Modeler (engine/bpmn/camunda.py): what does not map is one located error each
    "camunda.unsupported": ("{element}: {construct} cannot run in tourflow: {hint}",
                            "{element}：{construct} 无法在 tourflow 中运行：{hint}"),
    "camunda.hint.java": ("Java code does not run here; use camunda:type=\"external\" with camunda:topic naming a "
                          "tourflow handler",
                          "这里不运行 Java 代码；请改用 camunda:type=\"external\"，并用 camunda:topic 指明 tourflow 处理器"),
    "camunda.hint.form": ("use generated fields (camunda:formData) or a JSON Schema form "
                          "(spiffworkflow:property formJsonSchemaFilename)",
                          "请改用生成的表单字段（camunda:formData）或 JSON Schema 表单"
                          "（spiffworkflow:property formJsonSchemaFilename）"),
    "camunda.hint.start-form": ("a start event has no form here; put the fields on the first user task",
                                "这里的开始事件没有表单；请把字段放到第一个用户任务上"),
    "camunda.hint.form-field": ("form fields map with types string, long, boolean, date, enum and the constraints "
                                "required, minlength, maxlength, min, max, readonly",
                                "表单字段只支持类型 string、long、boolean、date、enum，"
                                "以及约束 required、minlength、maxlength、min、max、readonly"),
    "camunda.hint.script": ("scripts run in Python only: set scriptFormat=\"python\" and write the script in Python",
                            "脚本只能用 Python 运行：请设置 scriptFormat=\"python\" 并用 Python 编写脚本"),
    "camunda.hint.juel": ("only simple JUEL conditions map (comparisons, &&, ||, !, and/or/not, eq/ne/lt/gt/le/ge, "
                          "empty, literals, variable names); write the condition as a Python expression",
                          "只支持简单的 JUEL 条件（比较、&&、||、!、and/or/not、eq/ne/lt/gt/le/ge、empty、字面量、变量名）；"
                          "请把条件写成 Python 表达式"),
    "camunda.hint.listener": ("listeners, input/output mappings, call-activity variable mappings and properties other "
                              "than tourflow's own (defaultLane, routingKeys, summaryKeys, formJsonSchemaFilename, "
                              "assigneeExpression) do not run here; move the data through form fields, script tasks "
                              "or service tasks",
                              "这里不运行监听器、输入/输出映射、调用活动的变量映射，以及 tourflow 自身属性（defaultLane、"
                              "routingKeys、summaryKeys、formJsonSchemaFilename、assigneeExpression）以外的属性；"
                              "请通过表单字段、脚本任务或服务任务传递数据"),
    "camunda.hint.topic": ("a service task runs a tourflow handler: camunda:type=\"external\" with camunda:topic "
                           "naming it", "服务任务运行 tourflow 处理器：请用 camunda:type=\"external\" 并用 camunda:topic 指明它"),
    "camunda.hint.other": ("tourflow has no equivalent; remove it or model the step in BPMN",
                           "tourflow 没有对应功能；请删除它，或用 BPMN 元素表达这一步"),
    "camunda.hint.camunda8": ("Camunda 8 (Zeebe) extensions are not supported; model for Camunda Platform 7 or use "
                              "tourflow's own extensions", "不支持 Camunda 8（Zeebe）扩展；请按 Camunda Platform 7 建模，"
                              "或使用 tourflow 自己的扩展"),
    "camunda.groups.unknown": ("{element}: camunda:candidateGroups '{groups}' names no role; roles: {roles}",
                               "{element}：camunda:candidateGroups '{groups}' 不对应任何角色；角色：{roles}"),
    "camunda.groups.several": ("{element}: camunda:candidateGroups '{groups}' names several roles ({found}); a task has "
                               "one role: keep one of them; roles: {roles}",
                               "{element}：camunda:candidateGroups '{groups}' 对应多个角色（{found}）；"
                               "一个任务只能有一个角色，请只保留一个；角色：{roles}"),
    "camunda.groups.lane": ("{element} is in lane role '{lane}', which decides who works it: camunda:candidateGroups "
                            "'{groups}' is not used", "{element}位于泳道角色 '{lane}' 中，由泳道决定谁来办理："
                            "camunda:candidateGroups '{groups}' 不起作用"),
    "camunda.assignee": ("{element}: camunda:assignee '{value}' is neither a user name nor ${{variable}}",
                         "{element}：camunda:assignee '{value}' 既不是用户名，也不是 ${{变量名}}"),
    # why the script sandbox or RE2 refuses something (their English is matched in lint_reasons.py)
    "reason.too-deep-or-not-text": ("syntax error: nested too deeply or not text", "语法错误：嵌套太深，或不是文本"),
    "reason.syntax": ("syntax error: {detail}", "语法错误：{detail}"),
    "reason.too-long": ("script is longer than {limit} characters", "脚本超过 {limit} 个字符"),
    "reason.restricted": ("refused by the restricted compiler: {error}", "被受限编译器拒绝：{error}"),
    "reason.underscore-name": ("name '{name}' is not allowed (names may not start with '_')",
                               "不允许使用名称 '{name}'（名称不能以 '_' 开头）"),
    "reason.name": ("name '{name}' is not allowed", "不允许使用名称 '{name}'"),
    "reason.builtin-name": ("'{name}' is a function scripts use; pick another name", "'{name}' 是脚本可用的函数名；请换一个名称"),
    "reason.set-attribute": ("setting an attribute ('.{attr} = ...') is not allowed", "不允许给属性赋值（'.{attr} = ...'）"),
    "reason.attribute": ("attribute '{attr}' is not allowed (only methods of text, numbers, lists and dicts such as "
                         ".get, .upper, .append)",
                         "不允许使用属性 '{attr}'（只能用文本、数字、列表和字典的方法，如 .get、.upper、.append）"),
    "reason.import": ("import is not allowed", "不允许 import"),
    "reason.while": ("while loops are not allowed (use for over a list or range)",
                     "不允许 while 循环（请用 for 遍历列表或 range）"),
    "reason.global": ("global is not allowed", "不允许 global"),
    "reason.nonlocal": ("nonlocal is not allowed", "不允许 nonlocal"),
    "reason.class": ("class definitions are not allowed", "不允许定义类"),
    "reason.function": ("function definitions are not allowed", "不允许定义函数"),
    "reason.async": ("async code is not allowed", "不允许异步代码"),
    "reason.lambda": ("lambda is not allowed", "不允许 lambda"),
    "reason.generator": ("generators are not allowed", "不允许生成器"),
    "reason.try": ("try/except is not allowed", "不允许 try/except"),
    "reason.with": ("with is not allowed", "不允许 with"),
    "reason.raise": ("raise is not allowed", "不允许 raise"),
    "reason.assert": ("assert is not allowed", "不允许 assert"),
    "reason.walrus": ("':=' is not allowed", "不允许 ':='"),
    "reason.match": ("match is not allowed", "不允许 match"),
    "reason.node": ("{node} is not allowed", "不允许使用 {node}"),
    "reason.pattern-too-long": ("the pattern is {length} characters long; at most {limit} are allowed",
                                "正则表达式有 {length} 个字符；最多允许 {limit} 个"),
    "reason.pattern-re2": ("RE2 cannot compile the pattern ({reason}); backreferences, lookahead and lookbehind "
                           "are not supported",
                           "RE2 无法编译该正则表达式（{reason}）；不支持反向引用、先行断言和后行断言"),
    "reason.pattern-not-unicode": ("the pattern is not valid Unicode text", "正则表达式不是有效的 Unicode 文本"),
    "reason.file-too-large": ("file is {size} bytes; the limit is {limit} bytes", "文件有 {size} 字节，超过上限 {limit} 字节"),
    "reason.file-empty": ("file is empty", "文件是空的"),
    "reason.doctype": ("DOCTYPE/ENTITY declarations are not allowed in BPMN files", "BPMN 文件中不允许 DOCTYPE/ENTITY 声明"),
    "reason.malformed-xml": ("malformed XML: {detail}", "XML 格式错误：{detail}"),
    "reason.too-many-elements": ("file has {count} XML elements; the limit is {limit}",
                                 "文件有 {count} 个 XML 元素，超过上限 {limit}"),
    "reason.not-bpmn": ("not a BPMN 2.0 file: root element is <{tag}>, expected bpmn:definitions",
                        "不是 BPMN 2.0 文件：根元素是 <{tag}>，应为 bpmn:definitions"),
    "reason.unevaluated-with-patterns": ("a form cannot combine unevaluatedProperties with patternProperties",
                                         "表单不能同时使用 unevaluatedProperties 和 patternProperties"),
}

# The Chinese for words messages put in as `Term`s: BPMN element kinds and what a piece of Python is.
TERMS: dict[str, str] = {
    "process": "流程", "collaboration": "协作", "participant": "泳池", "laneSet": "泳道集", "lane": "泳道",
    "sequenceFlow": "顺序流", "startEvent": "开始事件", "endEvent": "结束事件",
    "intermediateCatchEvent": "中间捕获事件", "intermediateThrowEvent": "中间抛出事件", "boundaryEvent": "边界事件",
    "task": "任务", "userTask": "用户任务", "manualTask": "手工任务", "serviceTask": "服务任务",
    "scriptTask": "脚本任务", "sendTask": "发送任务", "receiveTask": "接收任务", "businessRuleTask": "业务规则任务",
    "callActivity": "调用活动", "subProcess": "子流程", "transaction": "事务子流程", "adHocSubProcess": "自由子流程",
    "exclusiveGateway": "排他网关", "inclusiveGateway": "包容网关", "parallelGateway": "并行网关",
    "eventBasedGateway": "事件网关", "complexGateway": "复杂网关", "message": "消息", "signal": "信号",
    "error": "错误", "escalation": "升级", "dataObject": "数据对象", "dataObjectReference": "数据对象引用",
    "dataStoreReference": "数据存储引用", "textAnnotation": "注释", "association": "关联", "messageFlow": "消息流",
    "condition": "条件", "completion condition": "完成条件", "loop cardinality": "循环次数",
    "loop condition": "循环条件", "script": "脚本", "pre-script": "前置脚本", "post-script": "后置脚本",
    "message payload": "消息内容",
    "timeDuration": "定时器时长（timeDuration）", "timeDate": "定时器时间（timeDate）",
    "timeCycle": "定时器周期（timeCycle）", "duration": "时长", "date": "日期时间", "cycle": "重复周期",
}


@dataclass(frozen=True)
class Term:
    """A word a message puts in (an element kind, "script"): English as is, Chinese from `TERMS`."""

    word: str

    def render(self, lang: str) -> str:
        return TERMS.get(self.word, self.word) if lang == "zh" else self.word

    def __str__(self) -> str:
        return self.word


@dataclass(frozen=True)
class Text:
    """One message: a catalogue key and its parameters (hashable, so Findings stay hashable)."""

    key: str
    params: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str = "en") -> str:
        english, chinese = MESSAGES[self.key]
        template = chinese if lang == "zh" else english
        values = {name: value.render(lang) if isinstance(value, Text | Term) else value
                  for name, value in self.params}
        return template.format(**values)

    def __str__(self) -> str:
        return self.render("en")


def msg(key: str, /, **params: object) -> Text:
    """The message `key` of `MESSAGES` with its parameters; a missing key fails here, not when shown."""
    if key not in MESSAGES:
        raise KeyError(f"lint message {key!r} is not in engine/bpmn/lint_messages.py MESSAGES")
    return Text(key, tuple(sorted(params.items())))


def placeholders(template: str) -> set[str]:
    """The parameter names a template uses (`{name}`, `{name!r}`)."""
    return {field for _, field, _, _ in Formatter().parse(template) if field}


def language(lang: str | None) -> str:
    """`zh` or `en`: what the caller asked for, English for anything else."""
    return lang if lang in LANGS else "en"

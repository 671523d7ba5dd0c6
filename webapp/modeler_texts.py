"""The texts of the modeler's properties panel and form editor (js/modeler-panel.js,
js/modeler-forms.js), translated here so the scripts carry no language of their own."""

from __future__ import annotations

from webapp.i18n import gettext as _


def panel_texts() -> dict[str, str]:
    return {
        "properties": _("属性"), "nothingSelected": _("选择图中的一个元素查看和编辑它的属性。"),
        "process": _("流程"), "id": _("编号"), "name": _("名称"), "kind": _("类型"),
        "idHelp": _("字母开头，只含字母、数字、_ 和 -；流程实例按编号找到节点。"),
        "idTaken": _("编号 {id} 已被占用"), "idInvalid": _("编号须以字母或 _ 开头，只含字母、数字、_、- 和 ."),
        "sop": _("说明（作业指导书）"), "sopHelp": _("每行一步，按（1）（2）…编号；办理人在任务页看到这些步骤。"),
        "numberLines": _("自动编号"),
        "role": _("角色（泳道）"), "roleHelp": _("泳道编号就是角色：这个泳道的任务进入该角色的待办。"),
        "roleUsed": _("（已用于另一泳道）"),
        "taskType": _("任务类型"), "userTask": _("用户任务（人工）"), "serviceTask": _("服务任务（处理程序）"),
        "scriptTask": _("脚本任务"), "plainTask": _("普通任务"),
        "form": _("表单"), "noForm": _("（未选择表单）"), "newForm": _("新建表单…"), "editForm": _("编辑表单"),
        "assignee": _("指定办理人（表达式，可留空）"),
        "assigneeHelp": _("例如 tour_guide['guide_user']；留空则泳道内任何人可认领。"),
        "handler": _("处理程序"), "noHandler": _("（未选择处理程序）"), "resultVariable": _("结果变量"),
        "parameters": _("参数"), "results": _("返回的键"), "resultsUnknown": _("见说明"),
        "readsOnly": _("只读"), "writes": _("写入数据"), "usedBy": _("使用它的流程"), "required": _("必填"),
        "parameterHelp": _("参数值是表达式：字符串要加引号，例如 'chat'；写数据键名则取该键的值。"),
        "timer": _("定时器"), "timerKind": _("定时方式"), "timeDuration": _("等待时长"),
        "timeDate": _("到指定时间"), "timeCycle": _("周期"), "expression": _("表达式"),
        "timerHelp": _("表达式的结果须是 ISO 8601 时长、时间或周期；文字要加引号。"),
        "quotedForYou": _("已为你加上引号：不加引号的 ISO 8601 文字不是表达式。"),
        "helpers": _("常用写法"), "oneHour": _("1 小时"), "oneDay": _("1 天"), "oneWorkingHour": _("1 个工作小时后"),
        "dataKeyTime": _("数据中的时间"), "everyDay": _("每天一次"),
        "condition": _("条件"), "conditionHelp": _("Python 表达式，读取流程数据，例如 kind == '服务质量'。"),
        "defaultFlow": _("默认路径（其他条件都不成立时）"),
        "message": _("消息"), "messageHelp": _("消息名在流程之间共用：发送方和接收方须写同一个名字。"),
        "messageUsedBy": _("已用于"), "payload": _("消息内容（表达式）"),
        "payloadHelp": _("一个字典表达式，例如 {'tour_id': tour_id}。"),
        "formEditor": _("表单编辑器"), "formFile": _("表单文件名"), "formTitle": _("表单标题"),
        "fields": _("字段"), "addField": _("添加字段"), "fieldKey": _("键名"), "fieldTitle": _("标题"),
        "fieldType": _("类型"), "fieldRequired": _("必填"), "fieldOptions": _("选项（每行一个）"),
        "typeText": _("单行文字"), "typeLong": _("多行文字"), "typeNumber": _("数字"), "typeInteger": _("整数"),
        "typeDate": _("日期"), "typeDateTime": _("日期时间"), "typeBool": _("是 / 否"), "typeChoice": _("单选"),
        "remove": _("删除"), "up": _("上移"), "schemaJson": _("JSON Schema（高级）"), "preview": _("预览：办理人看到的表单"),
        "apply": _("保存表单"), "cancel": _("取消"), "jsonInvalid": _("JSON 格式不正确"),
        "keyInvalid": _("键名须以字母开头，只含小写字母、数字和 _"), "keyTaken": _("键名 {key} 已存在"),
        "fileInvalid": _("文件名须是 字母/数字/_/- 加 .schema.json"), "noFields": _("还没有字段"),
        "previewFailed": _("预览失败"),
    }

"""Every UI string has an English entry, and the English switch shows it."""

from __future__ import annotations

import re
from pathlib import Path

from engine.access.users import ROLES
from webapp import display, errors, form_fields
from webapp.i18n import EN

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
# _("...") or _('...') with a literal first argument, in Python and in Jinja templates.
CALL = re.compile(r"""(?<![\w.])_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def ui_strings() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    files = sorted(WEBAPP.glob("*.py")) + sorted((WEBAPP / "templates").rglob("*.html"))
    for path in files:
        for match in CALL.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.setdefault(text, set()).add(str(path.relative_to(WEBAPP)))
    return found


def test_the_scan_finds_strings_in_code_and_templates():
    found = ui_strings()
    assert "收件箱" in found and "用户名或密码错误" in found
    assert any(f.endswith(".html") for files in found.values() for f in files)


def test_every_ui_string_has_an_english_entry():
    missing = {text: sorted(files) for text, files in ui_strings().items() if text not in EN}
    assert not missing, "no English for:\n" + "\n".join(f"  {t!r}  ({', '.join(f)})" for t, f in missing.items())


def test_labels_translated_through_tables_have_english_too():
    tables = [ROLES.values(), errors.TITLES.values(), display.STATUS_LABELS.values(), display.DUE_LABELS.values(),
              display.EVENT_LABELS.values(), form_fields.COERCE_MESSAGES.values()]
    missing = sorted({text for table in tables for text in table if text not in EN})
    assert not missing, f"no English for: {missing}"


def test_english_entries_keep_their_placeholders():
    for zh, en in EN.items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), (zh, en)


def test_english_switch_shows_the_inbox_in_english(client_for):
    agent = client_for("agent1")
    assert "全部待办" in agent.get("/").get_data(as_text=True)
    agent.get("/lang/en")
    page = agent.get("/").get_data(as_text=True)
    assert "All open" in page and "Overdue" in page and "Sort by due date" in page
    assert "全部待办" not in page and "收件箱" not in page
    agent.get("/lang/zh")
    assert "全部待办" in agent.get("/").get_data(as_text=True)

"""Message templates (engine/outbox/templates.py, messages/): every kind the code sends renders, a
broken or missing file is refused naming file and line (by `tourflow templates check`, `tourflow
lint` and at the start of `serve` and `worker`), the sandbox shows data and nothing else, and the
preview masks the customer's data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import DEFAULT_MESSAGES_DIR, DEFAULT_PROCESSES_DIR
from engine.outbox.templates import MessageTemplates, TemplateProblem, kinds
from tests.support.world import Cli
from webapp.message_preview import load_kinds, preview

SAMPLE = {"customer_name": "张建国", "contact": "13812345678", "booking": {"code": "BD1", "items": "x"}}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A copy of the repository's templates to break."""
    load_kinds()
    copy = tmp_path / "messages"
    shutil.copytree(DEFAULT_MESSAGES_DIR, copy)
    return copy


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_every_kind_the_code_sends_has_both_files_and_renders_its_sample():
    load_kinds()
    assert {"booking.confirmation", "booking.payment_reminder", "booking.receipt", "booking.expired",
            "booking.cancelled", "booking.changed", "booking.late_payment_refund", "itinerary.confirmation_letter",
            "itinerary.departure_reminder", "staff.alert"} <= set(kinds())
    assert MessageTemplates(DEFAULT_MESSAGES_DIR).check() == []


def test_the_first_line_is_the_subject_and_log_reads_the_email_file():
    load_kinds()
    store = MessageTemplates(DEFAULT_MESSAGES_DIR)
    email = store.render("booking.receipt", "email", kinds()["booking.receipt"].sample)
    assert email.subject == "【支付凭证】RC-BD2026120100042：预订 BD2026120100042 已收款"
    assert email.body.startswith("尊敬的张建国：") and email.template == "booking.receipt.email.j2"
    assert store.render("booking.receipt", "log", kinds()["booking.receipt"].sample) == email
    sms = store.render("booking.receipt", "webhook", kinds()["booking.receipt"].sample)
    assert (sms.subject, sms.template) == (email.subject, "booking.receipt.webhook.j2")
    assert sms.body == "【支付凭证】RC-BD2026120100042：预订 BD2026120100042 已收到 1360.00 元（在线支付）。"


@pytest.mark.parametrize(("text", "where", "says"), [
    ("主题 {{ booking.code }}\n\n第二行\n{% if paid %}没有结束\n", "booking.receipt.email.j2:4", "endif"),
    ("主题\n\n正文\n\n金额 {{ booking.amout }}\n", "booking.receipt.email.j2:5", "amout"),
    ("主题\n\n{{ receipt_number }}\n", "booking.receipt.email.j2:3", "receipt_number"),
    ("只有一行主题\n", "booking.receipt.email.j2:1", "first line"),
])
def test_a_broken_template_is_refused_naming_file_and_line(folder, text, where, says):
    write(folder, "booking.receipt.email.j2", text)
    [problem] = MessageTemplates(folder).check(["booking.receipt"])
    assert problem.where == f"messages/{where}"
    assert says in problem.problem and str(problem).startswith(f"messages/{where}: ")


def test_a_missing_file_is_refused(folder):
    (folder / "booking.expired.webhook.j2").unlink()
    [problem] = MessageTemplates(folder).check()
    assert problem.where == "messages/booking.expired.webhook.j2" and "missing" in problem.problem


@pytest.mark.parametrize("expression", [
    "booking.__class__", "booking.items()", "''.__class__.__mro__", "booking.code.upper()", "contact.__len__",
    "cycler.__init__.__globals__", "lipsum.__globals__"])
def test_the_sandbox_shows_data_and_nothing_else(folder, expression):
    write(folder, "probe.email.j2", "主题\n\n{{ " + expression + " }}\n")
    with pytest.raises(TemplateProblem) as refused:
        MessageTemplates(folder).render("probe", "email", SAMPLE)
    assert refused.value.where.startswith("messages/probe.email.j2")


def test_data_keys_read_as_keys_even_when_a_dict_method_has_the_name(folder):
    write(folder, "probe.email.j2", "主题 {{ booking.code }}\n\n{{ booking['items'] }} {{ booking.items }}"
                                    "{% for c in [1, 2] %}{{ loop.index }}{% endfor %}\n")
    assert MessageTemplates(folder).render("probe", "email", SAMPLE).body == "x x12"


def test_the_preview_masks_the_customers_data():
    shown = preview("booking.confirmation", "email")
    assert shown["data"]["customer_name"] == "张**" and shown["data"]["contact"] == "138****5678"
    assert "尊敬的张**：" in shown["body"] and "张建国" not in shown["body"] and shown["problem"] is None
    letter = preview("itinerary.confirmation_letter", "email")
    assert "张建国" not in letter["body"], "the letter's text is personal too"


def test_the_commands_refuse_a_broken_template_with_file_and_line(folder, tmp_path):
    write(folder, "booking.changed.webhook.j2", "【预订变更】{{ booking.code }} {{ diference }}\n")
    cli = Cli(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    cli.env["TOURFLOW_MESSAGES_DIR"] = str(folder)
    check = cli.run("templates", "check")
    assert check.returncode == 1 and "messages/booking.changed.webhook.j2:1: " in check.stderr
    assert "diference" in check.stderr
    lint = cli.run("lint", str(DEFAULT_PROCESSES_DIR))
    assert lint.returncode == 1
    assert "messages/booking.changed.webhook.j2:1: error: [message-template]" in lint.stdout
    worker = cli.run("worker")
    assert worker.returncode == 1 and "tourflow worker: message template: messages/booking.changed" in worker.stderr
    cli.env.pop("TOURFLOW_MESSAGES_DIR")
    assert cli.run("templates", "check").returncode == 0

"""The `email` channel: SMTP with smtplib (STARTTLS, or TLS from the start on port 465; AUTH), UTF-8
subject and body.

The Message-ID is derived from the idempotency key (`<digest@sender domain>`), so a mail sent
again after a crash carries the same Message-ID and a receiving system can drop the duplicate.
SMTP 4xx answers and lost connections are transient; 5xx answers (an unknown mailbox, a refused
login) are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from engine.outbox.channels.base import Outgoing, PermanentError, Sent, TransientError
from engine.outbox.settings import SmtpSettings


def message_id(outgoing: Outgoing, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "tourflow.localdomain"
    return f"<{outgoing.key_digest}@{domain}>"


def build_mail(outgoing: Outgoing, settings: SmtpSettings) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = outgoing.subject
    name = outgoing.payload.get("from_name") if isinstance(outgoing.payload.get("from_name"), str) else None
    mail["From"] = formataddr((name, settings.sender)) if name else settings.sender
    mail["To"] = outgoing.recipient
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id(outgoing, settings.sender)
    mail["X-Tourflow-Kind"] = outgoing.kind
    mail["X-Tourflow-Message"] = str(outgoing.id)
    mail.set_content(outgoing.body, charset="utf-8")
    html = outgoing.payload.get("html")
    if isinstance(html, str) and html:
        mail.add_alternative(html, subtype="html", charset="utf-8")
    return mail


class EmailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings | None = None):
        self.settings = settings or SmtpSettings.from_env()

    def send(self, outgoing: Outgoing) -> Sent:
        if "@" not in outgoing.recipient:
            raise PermanentError(f"not a mail address: {outgoing.recipient!r}")
        s = self.settings
        mail = build_mail(outgoing, s)
        context = ssl.create_default_context(cafile=s.cafile or None) if s.ssl or s.starttls else None
        try:
            connection = (smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context) if s.ssl
                          else smtplib.SMTP(s.host, s.port, timeout=s.timeout))
            with connection as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.user:
                    smtp.login(s.user, s.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = TransientError if all(400 <= c < 500 for c in codes) else PermanentError
            raise error(f"recipient refused: {exc.recipients}") from None
        except smtplib.SMTPResponseException as exc:
            error = TransientError if 400 <= exc.smtp_code < 500 else PermanentError
            raise error(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}") from None
        except UnicodeEncodeError:  # smtplib's AUTH sends user and password as ASCII
            raise PermanentError("the SMTP user name and password must be ASCII (TOURFLOW_SMTP_USER/PASSWORD)") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(f"SMTP server does not support it: {exc}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        return Sent(provider_ref=mail["Message-ID"])


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


__all__ = ["EmailChannel", "build_mail", "message_id"]

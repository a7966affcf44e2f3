"""The e-mail edition of an issue, and sending it over SMTP.

The HTML part comes from the theme's email.html with its CSS inlined (mail clients drop
<style>, except for @media rules, which are kept); the plain-text part from email.txt.
Links are absolute (the mail is read far from the site). Each recipient gets a message
of their own, so nobody sees the list and one refusal does not stop the others.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urljoin

import css_inline
import jinja2

from bulletin.model import Bulletin, Issue
from bulletin.publish.recipients import Recipient
from bulletin.publish.settings import MailSettings, bare_address
from bulletin.render.templates import render_template

HTML_TEMPLATE = "email.html"
TEXT_TEMPLATE = "email.txt"
_LINK = re.compile(r'(\s(?:src|href)=")([^"]*)(")')
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class MailError(Exception):
    """Sending cannot go on now (server down, login refused …); the next run retries."""

    def __init__(self, message: str, recipient: str | None = None) -> None:
        super().__init__(message)
        self.recipient = recipient  # a message the server surely did not take, if one


class Refused(Exception):
    """The server refused this one recipient for good (a 5xx answer)."""


@dataclass(frozen=True)
class Edition:
    """One issue's e-mail, ready to be addressed to each recipient."""

    message: EmailMessage
    domain: str

    def to(self, recipient: Recipient) -> EmailMessage:
        message = self.message
        for header in ("To", "Message-ID"):
            del message[header]
        message["To"] = recipient.written
        message["Message-ID"] = make_msgid(domain=self.domain)
        return message


def compose(
    issue: Issue,
    bulletin: Bulletin,
    env: jinja2.Environment,
    settings: MailSettings,
    *,
    pdf: bytes | None,
    now: datetime,
) -> Edition:
    """The issue's e-mail edition: HTML with inlined CSS, plain text, the PDF attached
    (or linked, with `pdf: link`)."""
    config = bulletin.config
    context = {
        "site": config,
        "bulletin": bulletin,
        "issue": issue,
        "root": config.base_url,  # url() gives absolute links
        "page_path": "",
        "pdf_url": config.base_url + issue.pdf_url,
        "pdf_attached": pdf is not None,
        "absolute": lambda html: absolute_links(str(html), config.base_url + f"issues/{issue.id}/"),
    }
    html = _INLINER.inline(render_template(env, HTML_TEMPLATE, context))
    text = render_template(env, TEXT_TEMPLATE, context)
    message = EmailMessage()
    message["Subject"] = subject(issue, bulletin)
    message["From"] = settings.sender
    message["Date"] = format_datetime(now)
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    if settings.unsubscribe:
        message["List-Unsubscribe"] = f"<{settings.unsubscribe}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if pdf is not None:
        message.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=pdf_name(issue, bulletin)
        )
    return Edition(message, bare_address(settings.sender).rpartition("@")[2] or "localhost")


def subject(issue: Issue, bulletin: Bulletin) -> str:
    serial = f"（{issue.serial_label}）" if issue.serial else ""
    return f"{bulletin.config.title} {issue.label}{serial}"


def pdf_name(issue: Issue, bulletin: Bulletin) -> str:
    return f"{bulletin.config.title}{issue.label.replace(' ', '')}.pdf"


def absolute_links(html: str, base: str) -> str:
    """Article HTML links images and pages relative to the issue folder; a mail needs
    them absolute. In-page anchors (footnotes) stay as they are."""

    def fix(match: re.Match) -> str:
        url = match.group(2)
        if url.startswith("#") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
            return match.group(0)
        return match.group(1) + urljoin(base, url) + match.group(3)

    return _LINK.sub(fix, html)


class Smtp:
    """One SMTP session for a batch of messages."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def __enter__(self) -> Smtp:
        settings = self.settings
        password = os.environ.get(settings.password_env, "") if settings.password_env else ""
        if settings.user and not password:
            raise MailError(
                f"the SMTP password is missing: set the environment variable "
                f"{settings.password_env} for the publish job"
            )
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        where = f"{settings.host}:{settings.port}"
        try:
            if settings.security == "ssl":
                client = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=context
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
                if settings.security == "starttls":
                    client.starttls(context=context)
            self.client = client
            if settings.user:
                client.login(settings.user, password)
        except (smtplib.SMTPException, OSError) as exc:
            self.__exit__(None, None, None)
            raise MailError(f"cannot send through {where}: {_reason(exc)}") from None
        return self

    def send(self, message: EmailMessage, recipient: Recipient) -> None:
        """Refused: for good. MailError names the recipient when the server surely did
        not take the message (the next run sends it); else it may have, and the
        caller must not send it again."""
        client = self.client
        assert client is not None
        handed = False  # whether the message itself went to the server

        def data(content):
            nonlocal handed
            handed = True
            return type(client).data(client, content)

        client.data = data  # smtplib's own send_message, told apart by stage
        try:
            client.send_message(
                message, from_addr=bare_address(self.settings.sender), to_addrs=[recipient.address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            text = (
                f"{code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
            )
            if code >= 500:
                raise Refused(text) from None
            raise MailError(f"{recipient.address}: {text}", recipient.address) from None
        except smtplib.SMTPDataError as exc:  # the server answered the message: not taken
            if exc.smtp_code >= 500:
                raise Refused(_reason(exc)) from None
            raise MailError(_reason(exc), recipient.address) from None
        except (smtplib.SMTPException, OSError) as exc:
            # cut off or timed out: once the message was handed over, the server may
            # have taken it
            raise MailError(_reason(exc), None if handed else recipient.address) from None
        finally:
            del client.data

    def __exit__(self, *exc_info) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
            self.client = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__

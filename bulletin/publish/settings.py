"""The publisher's part of bulletin.yaml: `deploy:` and `mail:`, checked like every other
field (file, line, hint). The build never reads these; only `publish` and `check` do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulletin.errors import Report
from bulletin.load.config import CONFIG_FILE
from bulletin.load.fields import (
    Field,
    boolean,
    check_fields,
    non_empty_text,
    one_of,
    positive_integer,
    text,
)
from bulletin.load.yamlfile import YamlDoc, parse_yaml, read_text

DEFAULT_FOLDER = "public"
DEFAULT_RECIPIENTS = "recipients.txt"
SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_ADDRESS = re.compile(r"^[^@\s<>\",;]+@[^@\s<>\",;]+$")


@dataclass(frozen=True)
class DeploySettings:
    """Where the site goes: a local folder swapped in atomically, or a command."""

    folder: Path | None  # absolute; None when a command deploys
    command: str | tuple[str, ...] | None = None  # a shell line, or an argv list
    timeout: float = 600.0
    keep: int = 3  # releases kept beside the folder, the live one included
    pdf: bool = True

    def describe(self) -> str:
        if self.command is None:
            return f"folder {self.folder}"
        shown = self.command if isinstance(self.command, str) else " ".join(self.command)
        return f"command `{shown}`"


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server and the recipients of the e-mail edition."""

    host: str
    sender: str  # `from:`, e.g. 科技情报参考 <bulletin@example.org>
    recipients: Path
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password_env: str = ""  # the name of the environment variable holding the password
    pdf: str = "attach"  # attach | link
    ca_file: Path | None = None
    reply_to: str = ""
    unsubscribe: str = ""  # a mailto: or https: address for the List-Unsubscribe header
    timeout: float = 60.0


@dataclass(frozen=True)
class Settings:
    deploy: DeploySettings
    mail: MailSettings | None


def address(value: Any) -> str:
    """An e-mail address, bare or as `Name <address>`."""
    result = non_empty_text(value)
    if not _ADDRESS.match(bare_address(result)):
        raise ValueError(f"is not an e-mail address: {result!r}")
    return result


def bare_address(value: str) -> str:
    """`Name <a@b>` -> `a@b`."""
    match = re.search(r"<([^<>]*)>\s*$", value)
    return (match.group(1) if match else value).strip()


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"must be a number of seconds above 0, not {value!r}")
    return float(value)


def _command(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, list):
        if not value or not all(isinstance(v, str | int | float) for v in value):
            raise ValueError("must be a shell line, or a non-empty list of words")
        return tuple(str(v) for v in value)
    return non_empty_text(value)


def _no_password(value: Any) -> str:
    raise ValueError("must not hold the password: bulletin.yaml is meant to be committed")


DEPLOY_FIELDS = {
    "folder": Field(
        non_empty_text,
        hint="a folder the web server serves, e.g. /srv/www/kjqbck (default: public)",
    ),
    "command": Field(
        _command, hint="runs where site/ is the built site, e.g. rsync -a --delete site/ web:/srv/"
    ),
    "timeout": Field(positive_number, hint="seconds the command may take (default 600)"),
    "keep": Field(positive_integer, hint="how many releases the folder keeps (default 3)"),
    "pdf": Field(boolean, hint="false publishes the site without the issue PDFs"),
}

MAIL_FIELDS = {
    "host": Field(non_empty_text, required=True, hint="the SMTP server, e.g. smtp.example.org"),
    "from": Field(address, required=True, hint="e.g. 科技情报参考 <bulletin@example.org>"),
    "port": Field(positive_integer, hint="default 587 (starttls), 465 (ssl) or 25 (none)"),
    "security": Field(one_of(*SECURITY_PORTS), hint="starttls, ssl or none"),
    "user": Field(text, hint="the SMTP login, if the server wants one"),
    "password_env": Field(
        non_empty_text, hint="the environment variable that holds the SMTP password"
    ),
    "password": Field(
        _no_password, hint="put it in an environment variable and name it in `password_env:`"
    ),
    "recipients": Field(
        non_empty_text, hint="a file in the bulletin with one address a line (recipients.txt)"
    ),
    "pdf": Field(one_of("attach", "link"), hint="attach the PDF, or link to it on the site"),
    "ca_file": Field(non_empty_text, hint="a CA certificate file for a server with a private CA"),
    "reply_to": Field(address, hint="where replies go, e.g. 李涛 <litao@example.org>"),
    "unsubscribe": Field(non_empty_text, hint="mailto:… or https://…"),
    "timeout": Field(positive_number, hint="seconds to wait for the SMTP server (default 60)"),
}


def load_settings(root: Path, report: Report) -> Settings | None:
    """Read `deploy:` and `mail:` from bulletin.yaml; problems go to `report`."""
    path = root / CONFIG_FILE
    source = read_text(path, report)
    doc = source is not None and parse_yaml(source, path, report, what=CONFIG_FILE)
    if not doc:
        return None
    deploy = _deploy(doc, root.resolve(), report)
    mail = _mail(doc, root.resolve(), report) if "mail" in doc.data else None
    if deploy is None:
        return None
    if mail is not None and mail.pdf == "attach" and not deploy.pdf:
        report.error(
            "the e-mail edition attaches the PDF, but `deploy: pdf: false` makes none",
            path,
            doc.line_of("mail"),
            hint="write `pdf: link` under `mail:`, or remove `pdf: false` under `deploy:`",
        )
    return Settings(deploy, mail)


def _section(doc: YamlDoc, key: str, report: Report) -> dict | None:
    value = doc.data.get(key) or {}
    if not isinstance(value, dict):
        report.error(
            f"{CONFIG_FILE} field `{key}` must be a mapping of `key: value` lines",
            doc.path,
            doc.line_of(key),
            hint="indent its settings below it, e.g.\n  folder: /srv/www/kjqbck",
        )
        return None
    return value


def _deploy(doc: YamlDoc, root: Path, report: Report) -> DeploySettings | None:
    raw = _section(doc, "deploy", report)
    if raw is None:
        return None
    values = check_fields(doc, DEPLOY_FIELDS, report, what="deploy", data=raw, keys=("deploy",))
    if "folder" in values and "command" in values:
        report.error(
            "deploy has both `folder:` and `command:`",
            doc.path,
            doc.line_of("deploy", "command"),
            hint="keep one: a local folder, or a command that copies site/ elsewhere",
        )
        return None
    folder = None if "command" in values else root / values.pop("folder", DEFAULT_FOLDER)
    return DeploySettings(folder=folder, **values)


def _mail(doc: YamlDoc, root: Path, report: Report) -> MailSettings | None:
    raw = _section(doc, "mail", report)
    if raw is None:
        return None
    values = check_fields(doc, MAIL_FIELDS, report, what="mail", data=raw, keys=("mail",))
    if not {"host", "from"} <= values.keys():
        return None
    recipients = root / values.pop("recipients", DEFAULT_RECIPIENTS)
    if not recipients.is_file():
        report.error(
            f"the recipients file {recipients.name} does not exist",
            doc.path,
            doc.line_of("mail", "recipients") if "recipients" in raw else doc.line_of("mail"),
            hint=f"create {recipients.name} with one address a line, or point `recipients:` at it",
        )
        return None
    if values.get("user") and not values.get("password_env"):
        report.error(
            "mail has a `user:` but no `password_env:`",
            doc.path,
            doc.line_of("mail", "user"),
            hint="add `password_env: BULLETIN_SMTP_PASSWORD` and set that variable for the job",
        )
    if "unsubscribe" in values and not values["unsubscribe"].startswith(
        ("mailto:", "https://", "http://")
    ):
        report.error(
            "mail field `unsubscribe` must start with mailto: or https://",
            doc.path,
            doc.line_of("mail", "unsubscribe"),
            hint="e.g. unsubscribe: mailto:bulletin@example.org?subject=退订",
        )
    security = values.get("security", "starttls")
    ca_file = values.pop("ca_file", None)
    return MailSettings(
        sender=values.pop("from"),
        recipients=recipients,
        port=values.pop("port", SECURITY_PORTS[security]),
        ca_file=root / ca_file if ca_file else None,
        **values,
    )

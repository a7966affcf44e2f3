"""bulletin.yaml -> Config, with every problem reported against its line."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bulletin.errors import Report
from bulletin.load.fields import (
    Field,
    boolean,
    check_fields,
    non_empty_text,
    positive_integer,
    text,
    text_list,
)
from bulletin.load.yamlfile import parse_yaml, read_text
from bulletin.model import Closing, Config

CONFIG_FILE = "bulletin.yaml"


def _zone(value) -> ZoneInfo:
    name = non_empty_text(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"is not a known time zone: {name!r} (use e.g. Asia/Shanghai)") from None


def _base_url(value) -> str:
    url = non_empty_text(value)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, not {url!r}")
    return url.rstrip("/") + "/"


def _mapping(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of `key: value` lines, indented below it")
    return value


FIELDS = {
    "title": Field(non_empty_text, required=True, hint="the bulletin's name, e.g. 科技情报参考"),
    "compiler": Field(non_empty_text, required=True, hint="the compiling unit (编辑单位)"),
    "base_url": Field(
        _base_url,
        required=True,
        hint="where the site is published, e.g. https://example.org/bulletin/",
    ),
    "editor": Field(text),
    "phone": Field(text),
    "language": Field(non_empty_text),
    "timezone": Field(_zone),
    "theme": Field(non_empty_text),
    "notice": Field(text),
    "report_to": Field(text_list, hint="报: a list of recipients"),
    "send_to": Field(text_list, hint="送: a list of recipients"),
    "issue_to": Field(text_list, hint="发: a list of recipients"),
    "copies": Field(positive_integer, hint="共印×份: the number of printed copies"),
    "allow_html": Field(boolean, hint="true lets raw HTML in Markdown through"),
    "recent_issues": Field(positive_integer),
    # read by the publisher (bulletin/publish/settings.py), not by the build:
    "deploy": Field(_mapping, hint="where `bulletin publish` puts the site (see the README)"),
    "mail": Field(_mapping, hint="the SMTP server and recipients of the e-mail edition"),
}
_CLOSING = ("report_to", "send_to", "issue_to", "copies")
_PUBLISHER = ("deploy", "mail")


def load_config(root: Path, report: Report) -> Config | None:
    path = root / CONFIG_FILE
    if not path.is_file():
        report.error(
            f"no {CONFIG_FILE} in {root}",
            path,
            hint="run bulletin in the bulletin's folder, or point at it with -C DIR",
        )
        return None
    source = read_text(path, report)
    doc = source is not None and parse_yaml(source, path, report, what=CONFIG_FILE)
    if not doc:
        return None
    values = check_fields(doc, FIELDS, report, what=CONFIG_FILE)
    if not {"title", "compiler", "base_url"} <= values.keys():
        return None
    closing = Closing(**{k: values.pop(k) for k in _CLOSING if k in values})
    for key in _PUBLISHER:
        values.pop(key, None)
    return Config(root=root.resolve(), closing=closing, **values)

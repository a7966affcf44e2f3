"""Declarative checks for the fields of YAML mappings (config, issue, front matter).

Each field names a converter that turns the YAML value into the model's type or
raises `ValueError` with a message an editor understands.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any

from bulletin.errors import Report
from bulletin.load.yamlfile import YamlDoc

Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    convert: Converter
    required: bool = False
    hint: str | None = None


def text(value: Any) -> str:
    """A string; YAML numbers such as a phone number 4366683 are taken as written."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ValueError(f"must be text, not {_kind(value)}")
    return str(value).strip()


def non_empty_text(value: Any) -> str:
    result = text(value)
    if not result:
        raise ValueError("must not be empty")
    return result


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {_kind(value)}")
    return value


def positive_integer(value: Any) -> int:
    result = integer(value)
    if result < 1:
        raise ValueError("must be 1 or more")
    return result


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    return value


def text_list(value: Any) -> tuple[str, ...]:
    """A list of strings; a single string is taken as a list of one."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"must be a list such as [a, b], not {_kind(value)}")
    return tuple(non_empty_text(item) for item in value)


def one_of(*choices: str) -> Converter:
    def convert(value: Any) -> str:
        result = text(value)
        if result not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {result!r}")
        return result

    return convert


def a_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(text(value))
    except ValueError:
        raise ValueError(f"must be a date like 2024-01-15, not {value!r}") from None


def moment(zone: tzinfo) -> Converter:
    """A date and time; a value without a UTC offset is read in the bulletin's zone."""

    def convert(value: Any) -> datetime:
        if isinstance(value, datetime):
            result = value
        elif isinstance(value, date):
            result = datetime.combine(value, time())
        else:
            try:
                result = datetime.fromisoformat(text(value))
            except ValueError:
                raise ValueError(
                    f"must be a date and time like 2024-01-15 09:00 or "
                    f"2024-01-15T09:00+08:00, not {value!r}"
                ) from None
        return result if result.tzinfo else result.replace(tzinfo=zone)

    return convert


def check_fields(
    doc: YamlDoc,
    fields: dict[str, Field],
    report: Report,
    *,
    what: str,
    data: dict[str, Any] | None = None,
    keys: tuple = (),
) -> dict[str, Any]:
    """Convert the known fields of a mapping; report missing, mistyped and unknown ones."""
    data = doc.data if data is None else data
    result: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data or data[name] is None:
            if spec.required:
                report.error(
                    f"{what} is missing the required field `{name}`",
                    doc.path,
                    doc.line_of(*keys) if keys else doc.first_line,
                    hint=spec.hint or f"add a line `{name}: …`",
                )
            continue
        try:
            result[name] = spec.convert(data[name])
        except ValueError as exc:
            report.error(
                f"{what} field `{name}` {exc}",
                doc.path,
                doc.line_of(*keys, name),
                hint=spec.hint or f"fix the value after `{name}:`, or remove the line",
            )
    for name in data:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known fields: {', '.join(fields)}"
            report.warn(
                f"unknown {what} field `{name}` is ignored",
                doc.path,
                doc.line_of(*keys, name),
                hint=hint,
            )
    return result


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text"}.get(
        type(value), "a list" if isinstance(value, list) else "a mapping"
    )

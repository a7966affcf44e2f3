"""Reading text and YAML the way editors' files really are: UTF-8, maybe a BOM, maybe CRLF.

YAML is only ever safe-loaded, with the C loader when PyYAML has it (about 5× faster).
Line numbers are looked up lazily, by composing the document only when a problem
needs to be reported, so the fast path pays nothing for good error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bulletin.errors import Report

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, report: Report, raw: bytes | None = None) -> str | None:
    """Read a UTF-8 file (or decode its bytes, when the caller has read them already);
    BOM and CRLF are accepted, anything else is reported."""
    try:
        raw = path.read_bytes() if raw is None else raw
    except OSError as exc:
        report.error(f"cannot read file: {exc.strerror}", path)
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.error(
            f"file is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path,
            line,
            hint="save the file as UTF-8 (in most editors: Save As… → Encoding: UTF-8)",
        )
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class YamlDoc:
    """A parsed YAML mapping that can tell on which line each key stands."""

    path: Path
    text: str
    data: dict[str, Any]
    first_line: int = 1  # line of the file where the YAML text starts
    _lines: dict[tuple, int] | None = field(default=None, repr=False)

    def line_of(self, *keys: str | int) -> int:
        """The file line of a key path such as ("sections", 0, "title"); best effort."""
        if self._lines is None:
            self._lines = _key_lines(self.text)
        while keys and keys not in self._lines:
            keys = keys[:-1]
        return self._lines.get(keys, 0) + self.first_line


def parse_yaml(
    text: str, path: Path, report: Report, first_line: int = 1, what: str = "YAML"
) -> YamlDoc | None:
    """Safe-load a YAML mapping; syntax errors are reported with their line."""
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + first_line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc)
        report.error(
            f"invalid {what}: {problem}",
            path,
            line,
            hint="check indentation, and quote values that contain ': ' or start with [ { * & ! | >",
        )
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        report.error(
            f"{what} must be a mapping of `key: value` lines, not a {type(data).__name__}",
            path,
            first_line,
        )
        return None
    return YamlDoc(path, text, data, first_line)


def key_line(path: Path, key: str) -> int | None:
    """The line of a top-level `key:` in a YAML or front matter file, for problems
    found after loading, when the parsed document is gone."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(rf"^{re.escape(key)}\s*:")
    return next((n for n, line in enumerate(lines, 1) if pattern.match(line)), None)


def read_yaml(path: Path, report: Report, what: str, raw: bytes | None = None) -> YamlDoc | None:
    """read_text + parse_yaml: a whole YAML file as a mapping, or None after reporting."""
    text = read_text(path, report, raw)
    return parse_yaml(text, path, report, what=what) if text is not None else None


def _key_lines(text: str) -> dict[tuple, int]:
    """Map every key path of a YAML document to its 0-based line number."""
    lines: dict[tuple, int] = {}
    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                lines[child] = key.start_mark.line
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines

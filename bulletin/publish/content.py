"""The content hash of an issue as readers see it, by part, so a change names its file.

Hashed are the issue's own fields (not `status` nor `corrections`, which may change
after publication), the bytes of each shown article file and of the images it shows.
Source bytes, not rendered HTML, so a newer Markdown renderer or theme never looks like
an edit; line ends and a BOM are normalised, so a Windows checkout hashes the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from bulletin.model import Issue

ISSUE_PART = "issue.yaml"
SHORT = 16  # hex digits kept per part in the log: enough to tell a change


@dataclass(frozen=True)
class Content:
    parts: Mapping[str, str]  # part name (issue.yaml, an article file, an image) -> sha256

    @property
    def hash(self) -> str:
        joined = json.dumps(dict(sorted(self.parts.items())), separators=(",", ":"))
        return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()

    def short_parts(self) -> dict[str, str]:
        return {name: digest[:SHORT] for name, digest in sorted(self.parts.items())}

    def changes_since(self, logged: Mapping[str, str]) -> list[str]:
        """What differs from the parts a log record kept, e.g. ['first.md changed']."""
        now = self.short_parts()
        changes = [f"{n} changed" for n in now if n in logged and logged[n] != now[n]]
        changes += [f"{n} added" for n in now if n not in logged]
        changes += [f"{n} removed" for n in logged if n not in now]
        return changes


def content_of(issue: Issue) -> Content:
    """The content of `issue` as given: pass it through the visibility rule first."""
    parts = {ISSUE_PART: _digest(json.dumps(_fields(issue), ensure_ascii=False).encode())}
    folder = issue.path.resolve()
    for article in issue.articles:
        parts[article.path.name] = _digest(_text_bytes(article.path))
        for src in article.images:
            image = (folder / src.split("#")[0].split("?")[0]).resolve()
            if image.is_file() and image.is_relative_to(folder):
                parts[image.relative_to(folder).as_posix()] = _digest(image.read_bytes())
    return Content(parts)


def _fields(issue: Issue) -> dict:
    return {
        "year": issue.year,
        "number": issue.number,
        "serial": issue.serial,
        "publish_at": issue.publish_at.astimezone(UTC).isoformat() if issue.publish_at else None,
        "editor_note": issue.editor_note,
        "sections": [[s.title, [a.slug for a in s.articles]] for s in issue.sections],
    }


def _text_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError:
        return b""
    return raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

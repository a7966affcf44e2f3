"""What the preview adds to pages on the way out: the live script (reload, error
overlay, PDF notices). It is added to HTML responses by the server only, so the
output of `bulletin build` never carries it."""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

PREFIX = "/__bulletin__/"  # the server's own URLs; no page of a bulletin lives here
SCRIPT_URL = PREFIX + "live.js"
EVENTS_URL = PREFIX + "events"

_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEAD_START = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)


@cache
def live_script() -> bytes:
    return (Path(__file__).parent / "live.js").read_bytes()


def script_tag(version: str, issue: str = "") -> bytes:
    attributes = f'src="{SCRIPT_URL}" data-version="{html.escape(version)}"'
    if issue:
        attributes += f' data-issue="{html.escape(issue)}"'
    return f"<script {attributes}></script>".encode()


def inject(page: bytes, *, version: str, issue: str = "", base: str | None = None) -> bytes:
    """The page with the live script before its last </body> (or at its end), and,
    for a page shown at another URL than its own (the 404 page), a <base>."""
    if base is not None:
        head = _HEAD_START.search(page)
        tag = f'<base href="{html.escape(base)}">'.encode()
        page = page[: head.end()] + tag + page[head.end() :] if head else tag + page
    tag = script_tag(version, issue)
    ends = list(_BODY_END.finditer(page))
    if not ends:
        return page + tag
    at = ends[-1].start()
    return page[:at] + tag + page[at:]


def waiting_page(version: str) -> bytes:
    """Shown while there is no good build yet: the overlay explains why."""
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        "<title>预览尚未生成</title></head><body>"
        '<p style="font: 16px sans-serif; margin: 2rem">预览尚未生成：构建成功后本页会自动刷新。</p>'
        "</body></html>"
    ).encode()
    return inject(page, version=version)

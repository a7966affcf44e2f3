"""The one Markdown setup: CommonMark + tables + footnotes + figures, safe by default.

Rendering returns the HTML together with what the build needs to know about it:
the plain text (for search, summaries and PDF checks) and the local images it uses.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from mdit_py_plugins.footnote import footnote_plugin

_UNSAFE_URL = re.compile(r"^(javascript|vbscript|data(?!:image/(png|gif|jpe?g|webp);)):", re.I)
_HTML_URL_ATTR = re.compile(
    r"""([\s/"'](?:href|src|action|formaction|xlink:href|poster)\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)""",
    re.I,
)
_CONTROL = re.compile(r"[\x00-\x20]+")
_NOT_ID = re.compile(r"[^\w\-]+")


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str  # plain text of the body, paragraphs separated by newlines
    images: tuple[str, ...]  # local image paths as written in the Markdown


def render(source: str, *, doc_id: str, allow_html: bool = False) -> Rendered:
    """Render an article body; ids of headings and footnotes are prefixed with `doc_id`
    so that many articles can share one page (the issue PDF) without clashing."""
    md = _markdown(allow_html)
    env = {"docId": doc_id}
    tokens = md.parse(source, env)
    return Rendered(
        html=md.renderer.render(tokens, md.options, env),
        text=_plain_text(tokens),
        images=tuple(_local_images(tokens)),
    )


def is_safe_url(url: str) -> bool:
    return not _UNSAFE_URL.match(_CONTROL.sub("", html.unescape(url)))


@cache
def _markdown(allow_html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": allow_html, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    md.validateLink = is_safe_url
    md.core.ruler.push("heading_ids", _heading_ids)
    md.core.ruler.push("figures", _figures)
    md.add_render_rule("image", _render_image)
    if allow_html:
        md.core.ruler.push("neutralize_html_urls", _neutralize_html_urls)
    return md


def _heading_ids(state: StateCore) -> None:
    prefix = state.env.get("docId", "")
    seen: set[str] = set()
    for index, token in enumerate(state.tokens):
        if token.type != "heading_open" or token.attrGet("id"):
            continue
        words = _NOT_ID.sub("-", state.tokens[index + 1].content).strip("-").lower()
        anchor = f"{prefix}-{words or 'section'}" if prefix else words or "section"
        unique, n = anchor, 1
        while unique in seen:
            n += 1
            unique = f"{anchor}-{n}"
        seen.add(unique)
        token.attrSet("id", unique)


def _figures(state: StateCore) -> None:
    """A paragraph holding only an image becomes a <figure> with a caption."""
    tokens = state.tokens
    for index in range(len(tokens) - 2):
        opening, inline, closing = tokens[index : index + 3]
        if opening.type != "paragraph_open" or closing.type != "paragraph_close":
            continue
        children = [c for c in inline.children or [] if c.type not in ("softbreak", "text")]
        texts = [c for c in inline.children or [] if c.type == "text" and c.content.strip()]
        if len(children) == 1 and children[0].type == "image" and not texts:
            opening.tag = closing.tag = "figure"
            children[0].meta["figure"] = True


def _render_image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = html.escape(token.attrGet("src") or "")
    title = token.attrGet("title")
    img = f'<img src="{src}" alt="{html.escape(alt)}" loading="lazy">'
    if not token.meta.get("figure"):
        return img
    caption = title or alt
    return img + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "")


def _neutralize_html_urls(state: StateCore) -> None:
    """With raw HTML allowed, still never let a javascript: URL through."""

    def clean(match: re.Match) -> str:
        value = match.group(2).strip("\"'")
        return match.group(0) if is_safe_url(value) else f'{match.group(1)}"#"'

    for token in state.tokens:
        if token.type == "html_block":
            token.content = _HTML_URL_ATTR.sub(clean, token.content)
        for child in token.children or []:
            if child.type == "html_inline":
                child.content = _HTML_URL_ATTR.sub(clean, child.content)


def _plain_text(tokens) -> str:
    blocks = []
    for token in tokens:
        if token.type == "inline":
            parts = [c.content for c in token.children or [] if c.type in ("text", "code_inline")]
            blocks.append("".join(parts))
    return "\n".join(b for b in blocks if b.strip())


def _local_images(tokens):
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                src = child.attrGet("src") or ""
                if src and not re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", src, re.I):
                    yield src

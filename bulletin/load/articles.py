"""One Markdown file with YAML front matter -> Article."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bulletin import __version__
from bulletin.errors import Report
from bulletin.load.bodies import Body
from bulletin.load.fields import (
    Field,
    a_date,
    boolean,
    check_fields,
    moment,
    non_empty_text,
    text,
    text_list,
)
from bulletin.load.yamlfile import parse_yaml, read_text
from bulletin.model import Article, Config

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
SLUG = re.compile(r"^[\w][\w-]*$")
SUMMARY_LENGTH = 90


def _slug(value) -> str:
    slug = non_empty_text(value)
    if not SLUG.match(slug):
        raise ValueError(f"may hold only letters, digits, - and _, not {slug!r}")
    return slug


FIELDS = {
    "title": Field(non_empty_text, required=True, hint="add `title: 文章标题` to the front matter"),
    "subtitle": Field(text),
    "source": Field(text, hint="where it was first published, e.g. 科技日报"),
    "author": Field(text),
    "byline": Field(text, hint="the byline as printed, e.g. 本报记者 张景阳"),
    "date": Field(a_date),
    "region": Field(text),
    "tags": Field(text_list),
    "featured": Field(boolean, hint="false removes the ★ in the contents"),
    "summary": Field(text),
    "slug": Field(_slug, hint="the article's URL name; the file name is used by default"),
}


def fields(config: Config) -> dict[str, Field]:
    """The front matter fields; `publish_at` (an embargo) is read in the bulletin's zone."""
    embargo = Field(
        moment(config.timezone),
        hint="the article is held back until then, e.g. publish_at: 2024-03-01 09:00",
    )
    return {**FIELDS, "publish_at": embargo}


def load_article(
    path: Path, issue_id: str, config: Config, report: Report, raw: bytes | None = None
) -> Article | None:
    """An article file -> Article; `raw`: its bytes, when the caller has read them."""
    source = read_text(path, report, raw)
    if source is None:
        return None
    match = _FRONT_MATTER.match(source)
    if not match:
        report.error(
            "article has no front matter",
            path,
            1,
            hint="start the file with a `---` line, `title: …`, and another `---` line",
        )
        return None
    doc = parse_yaml(match.group(1) or "", path, report, first_line=2, what="front matter")
    if doc is None:
        return None
    values = check_fields(doc, fields(config), report, what="front matter")
    if "title" not in values:
        return None
    slug = values.pop("slug", path.stem)
    body = source[match.end() :]
    from bulletin.markdown import render  # markdown-it: only when a file really is parsed

    rendered = render(body, doc_id=slug, allow_html=config.allow_html)
    body_line = source[: match.end()].count("\n") + 1
    _check_images(path, body, body_line, rendered.images, report)
    summary = values.pop("summary", "") or _summary(rendered.text)
    return Article(
        path=path,
        issue_id=issue_id,
        slug=slug,
        body=Body(body_digest(body, slug, config), rendered.html, rendered.text),
        images=rendered.images,
        summary=summary,
        **values,
    )


def body_digest(source: str, slug: str, config: Config) -> str:
    """Names a rendered body: the Markdown and everything that changes its HTML."""
    salt = f"{__version__}|{config.allow_html}|{slug}|"
    return hashlib.sha1((salt + source).encode()).hexdigest()


def _summary(text_: str) -> str:
    first = text_.split("\n", 1)[0] if text_ else ""
    return first if len(first) <= SUMMARY_LENGTH else first[:SUMMARY_LENGTH].rstrip() + "……"


def images_missing(article: Article) -> bool:
    """Whether an image the article shows is gone (checked even when it did not change)."""
    folder = article.path.parent
    return any(not (folder / src.split("#")[0].split("?")[0]).is_file() for src in article.images)


def _check_images(path: Path, body: str, body_line: int, images, report: Report) -> None:
    if not images:  # most articles: no folder to resolve (a tenth of a cold parse)
        return
    folder = path.parent.resolve()
    for src in images:
        target = (folder / src.split("#")[0].split("?")[0]).resolve()
        line = body_line + body[: max(body.find(src), 0)].count("\n")
        if not target.is_relative_to(folder):
            report.error(
                f"image {src!r} lies outside the issue folder",
                path,
                line,
                hint="put images inside the issue's folder, e.g. images/photo.jpg",
            )
        elif not target.is_file():
            report.error(
                f"image not found: {src}",
                path,
                line,
                hint=f"add the file {target.relative_to(folder)} to {folder.name}/ or fix the path",
            )

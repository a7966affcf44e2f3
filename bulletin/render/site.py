"""Which pages the site has, and what each one is given to render.

`site_pages` is the whole plan: every output path with its template and context.
Rendering and writing are separate, so `bulletin check` can render everything
in memory and write nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import jinja2

from bulletin import __version__
from bulletin.model import Bulletin, Issue
from bulletin.render.templates import render_template

_UNSAFE_NAME = re.compile(r"[\s/\\?#%*:|\"<>.]+")


@dataclass(frozen=True)
class Page:
    path: str  # from the site's root, e.g. issues/2024-01/index.html
    template: str
    context: dict[str, Any]
    in_sitemap: bool = True


def term_path(kind: str, term: str) -> str:
    """tags/<tag>/index.html: the folder is the term itself, made safe for a file name."""
    return f"{kind}/{_UNSAFE_NAME.sub('-', term).strip('-') or 'term'}/index.html"


def site_pages(bulletin: Bulletin, *, now: datetime) -> Iterator[Page]:
    config = bulletin.config
    yield Page("index.html", "index.html", {"recent": bulletin.issues[: config.recent_issues]})
    years = bulletin.by_year()
    yield Page("archive/index.html", "archive.html", {"years": years})
    for year, issues in years.items():
        yield Page(f"archive/{year}/index.html", "year.html", {"year": year, "issues": issues})
    for issue in bulletin.issues:
        yield Page(issue.url, "issue.html", {"issue": issue})
        for article in issue.articles:
            previous, following = issue.neighbours(article)
            context = {"issue": issue, "article": article, "previous": previous, "next": following}
            yield Page(article.url, "article.html", context)
    for kind, groups in (("tags", bulletin.by_tag()), ("regions", bulletin.by_region())):
        yield Page(f"{kind}/index.html", f"{kind}.html", {"groups": groups})
        for term, articles in groups.items():
            context = {"kind": kind, "term": term, "articles": articles}
            yield Page(term_path(kind, term), "term.html", context)
    yield Page("search/index.html", "search.html", {})
    yield Page("404.html", "404.html", {}, in_sitemap=False)


def render_pages(
    bulletin: Bulletin, env: jinja2.Environment, *, now: datetime, pdf: bool = True
) -> Iterator[tuple[str, str]]:
    """Every page and feed of the site as (path, text)."""
    pages = list(site_pages(bulletin, now=now))
    common = {
        "site": bulletin.config,
        "bulletin": bulletin,
        "now": now,
        "generator": f"bulletin {__version__}",
        "term_path": term_path,
        "issue_of": bulletin.issue_of,
        "pdf": pdf,
    }
    for page in pages:
        context = {**common, **page.context, "root": _root(page.path), "page_path": page.path}
        yield page.path, render_template(env, page.template, context)
    absolute = {**common, "root": bulletin.config.base_url, "page_path": ""}
    feed = {"entries": feed_entries(bulletin), "updated": _feed_updated(bulletin, now)}
    yield "feed.xml", render_template(env, "feed.xml", {**absolute, **feed})
    listed = [p.path for p in pages if p.in_sitemap]
    yield "sitemap.xml", render_template(env, "sitemap.xml", {**absolute, "paths": listed})
    yield "assets/search-index.js", search_index(bulletin)


def _root(path: str) -> str:
    return "../" * path.count("/")


def issue_time(issue: Issue, bulletin: Bulletin) -> datetime:
    """When an issue came out; an issue without publish_at counts from its year's start."""
    return issue.publish_at or datetime(issue.year, 1, 1, tzinfo=bulletin.config.timezone)


def feed_entries(bulletin: Bulletin) -> list[dict[str, Any]]:
    entries = []
    for issue in bulletin.issues[: bulletin.config.recent_issues]:
        for article in issue.articles:
            entries.append(
                {"issue": issue, "article": article, "updated": issue_time(issue, bulletin)}
            )
    return entries


def _feed_updated(bulletin: Bulletin, now: datetime) -> datetime:
    times = [issue_time(i, bulletin) for i in bulletin.issues]
    return max(times) if times else now


def search_index(bulletin: Bulletin) -> str:
    """The search data as a script (not JSON), so search also works from file://."""
    records = [
        {
            "t": a.title,
            "u": quote(a.url, safe="/#"),
            "i": bulletin.issue_of(a).label,
            "s": a.summary,
            "x": a.text,
            "g": list(a.tags),
        }
        for a in bulletin.articles
    ]
    data = json.dumps(records, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.BULLETIN_SEARCH={data};\n"

"""Which pages the site has, what each is given to render, and what it depends on.

`site_pages` is the whole plan: every output path with its template, its context and
its inputs, the digests of exactly what the page shows. The build skips a page whose
inputs (with the templates it uses, the config and the tool's version) are as they
were; rendering and writing are separate, so `bulletin check` can render everything
in memory and write nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import jinja2

from bulletin import __version__
from bulletin.model import Article, Bulletin, Issue
from bulletin.render.templates import render_template
from bulletin.schedule import is_future

TERM_PAGE_SIZE = 50  # articles on a tag's or region's page; a theme sets site.term_page_size
_UNSAFE_NAME = re.compile(r"[\s/\\?#%*:|\"<>.]+")


@dataclass(frozen=True)
class Page:
    path: str  # from the site's root, e.g. issues/2024-01/index.html
    template: str | None  # None: `produce` makes the text (the search index)
    context: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()  # digests of what the page shows
    in_sitemap: bool = True
    absolute: bool = False  # links from the base URL (feed, sitemap)
    produce: Callable[[], str] | None = None
    group: str | None = None  # an issue's id, for its own page and its articles' pages


def term_path(kind: str, term: str) -> str:
    """tags/<tag>/index.html: the folder is the term itself, made safe for a file name."""
    return f"{kind}/{_UNSAFE_NAME.sub('-', term).strip('-') or 'term'}/index.html"


def digest(*parts: object) -> str:
    """A short stable name for what some model objects hold (their repr is complete)."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()


class Digests:
    """Digests of issues and articles, each computed once per build. A listing (the
    contents, an archive, a tag page) shows an article's front matter, never its
    body; so an article has a listing digest, and a full one that adds its body, and
    an edit of a body renders again only the pages that show it.

    `memo` (kept by a long-lived builder from one build to the next) holds each
    article object's digests: the parse cache hands back the same object for a file
    that did not change, so only edited articles are digested again. `whole`: the
    bulletin has every article (not only those a rebuild after an edit loaded)."""

    def __init__(
        self, bulletin: Bulletin, now: datetime, memo: dict | None = None, whole: bool = True
    ) -> None:
        self.now = now
        self.listings: dict[str, str] = {}
        self.articles: dict[str, str] = {}
        before, kept = memo or {}, {}
        for article in bulletin.articles:
            hit = before.get(id(article))
            if hit is None or hit[0] is not article:  # an id may be reused by a new object
                listing = _listing_digest(article)
                hit = (article, listing, digest(listing, article.body.digest))
            kept[id(article)] = hit
            self.listings[article.url], self.articles[article.url] = hit[1], hit[2]
        if memo is not None:
            if whole:  # the memo keeps this build's articles, no others: it does not grow
                memo.clear()
            memo.update(kept)
        self.issues = {i.id: self._issue_digest(i) for i in bulletin.issues}

    def _issue_digest(self, issue: Issue) -> str:
        fields = {k: v for k, v in vars(issue).items() if k not in ("sections", "path")}
        sections = tuple((s.title, self.of_listings(s.articles)) for s in issue.sections)
        return digest(fields, sections, is_future(issue, self.now))

    def of_issues(self, issues) -> tuple[str, ...]:
        """What listings of these issues show (their articles' front matter)."""
        return tuple(self.issues[i.id] for i in issues)

    def of_listings(self, articles) -> tuple[str, ...]:
        return tuple(self.listings[a.url] for a in articles)

    def of_articles(self, articles) -> tuple[str, ...]:
        """Everything of these articles, bodies included."""
        return tuple(self.articles[a.url] for a in articles)


def _listing_digest(article: Article) -> str:
    return digest({k: v for k, v in vars(article).items() if k not in ("path", "body")})


def _term_pages(bulletin, known, kind, term, articles, per_page) -> list[Page]:
    """A tag's or region's articles, newest first, `per_page` to a page: an edit
    renders again only the page its article is on."""
    chunks = [articles[i : i + per_page] for i in range(0, len(articles), per_page)]
    pages = []
    for number, chunk in enumerate(chunks, 1):
        context = {
            "kind": kind,
            "term": term,
            "articles": chunk,
            "total": len(articles),
            "number": number,
            "pages": len(chunks),
            "previous": term_page_path(kind, term, number - 1) if number > 1 else None,
            "next": term_page_path(kind, term, number + 1) if number < len(chunks) else None,
        }
        labels = tuple(bulletin.issue_of(a).label for a in chunk)
        place = digest(labels, number, len(chunks), len(articles))
        inputs = (*known.of_listings(chunk), place)
        pages.append(Page(term_page_path(kind, term, number), "term.html", context, inputs))
    return pages


def term_page_path(kind: str, term: str, number: int) -> str:
    """Page 1 of a term is its index.html; the others are page-2.html … beside it."""
    first = term_path(kind, term)
    return first if number == 1 else first.removesuffix("index.html") + f"page-{number}.html"


KeepIssue = Callable[[Issue, str], bool]  # (issue, digest of all it shows) -> its pages kept


def site_pages(
    bulletin: Bulletin,
    *,
    now: datetime,
    per_page: int = TERM_PAGE_SIZE,
    keep_issue: KeepIssue | None = None,
    known: Digests | None = None,
) -> list[Page]:
    """Every page of the site. `keep_issue` lets a rebuild keep an unchanged issue's
    pages whole (its own page and its articles'), which are then not planned at all:
    in a large archive, planning thousands of pages that did not change costs more
    than rendering the few that did.

    A page whose inputs include articles' bodies (`known.of_articles`) must also be
    planned by `pages_showing`: a rebuild after an edit of text alone plans only those."""
    config = bulletin.config
    known = known or Digests(bulletin, now)
    everything = known.of_issues(bulletin.issues)
    recent = bulletin.issues[: config.recent_issues]
    pages = [Page("index.html", "index.html", {"recent": recent}, known.of_issues(recent))]
    years = bulletin.by_year()
    pages.append(Page("archive/index.html", "archive.html", {"years": years}, everything))
    for year, issues in years.items():
        context = {"year": year, "issues": issues}
        pages.append(
            Page(f"archive/{year}/index.html", "year.html", context, known.of_issues(issues))
        )
    kept: list[str] = []  # paths of the pages of issues kept whole
    for issue in bulletin.issues:
        if keep_issue and keep_issue(issue, _everything_of(issue, known)):
            kept.extend([issue.url, *(a.url for a in issue.articles)])
        else:
            pages.extend(issue_pages(issue, known))
    for kind, groups in (("tags", bulletin.by_tag()), ("regions", bulletin.by_region())):
        counts = tuple((term, len(articles)) for term, articles in groups.items())
        pages.append(
            Page(
                f"{kind}/index.html",
                "terms.html",
                {"kind": kind, "groups": groups},
                (digest(counts),),
            )
        )
        for term, articles in groups.items():
            pages.extend(_term_pages(bulletin, known, kind, term, articles, per_page))
    shards = search_shards(bulletin, known)
    pages.append(
        Page(
            "search/index.html",
            "search.html",
            {"shards": [s.path for s in shards]},
            (digest(tuple(s.path for s in shards)),),
        )
    )
    pages.extend(shards)
    pages.append(Page("404.html", "404.html", in_sitemap=False))
    pages.append(feed_page(bulletin, known))
    # sorted: the same whichever issues were kept
    listed = sorted([p.path for p in pages if p.in_sitemap and p.path.endswith(".html")] + kept)
    pages.append(
        Page("sitemap.xml", "sitemap.xml", {"paths": listed}, (digest(listed),), False, True)
    )
    return pages


def pages_showing(
    bulletin: Bulletin,
    issues: list[Issue],
    *,
    known: Digests,
    keep_issue: KeepIssue | None = None,
) -> list[Page]:
    """The pages that show the text of `issues`' articles, as `site_pages` plans them:
    all that an edit of their text changes when their front matter stays as it was.
    `bulletin` needs only these issues, every issue of their years and the recent
    issues; the rest of the site is not planned at all."""
    pages = []
    for issue in issues:
        if not (keep_issue and keep_issue(issue, _everything_of(issue, known))):
            pages.extend(issue_pages(issue, known))
    pages.extend(search_shards(bulletin, known, years={issue.year for issue in issues}))
    recent = {issue.id for issue in bulletin.issues[: bulletin.config.recent_issues]}
    if any(issue.id in recent for issue in issues):
        pages.append(feed_page(bulletin, known))
    return pages


def issue_pages(issue: Issue, known: Digests) -> list[Page]:
    """An issue's own page and its articles' pages: the group an issue keeps whole."""
    inputs = known.of_issues([issue])
    pages = [Page(issue.url, "issue.html", {"issue": issue}, inputs, group=issue.id)]
    for article in issue.articles:
        previous, following = issue.neighbours(article)
        context = {"issue": issue, "article": article, "previous": previous, "next": following}
        own = (*inputs, *known.of_articles([article]))
        pages.append(Page(article.url, "article.html", context, own, group=issue.id))
    return pages


def _everything_of(issue: Issue, known: Digests) -> str:
    return digest(known.of_issues([issue]), known.of_articles(issue.articles))


def feed_page(bulletin: Bulletin, known: Digests) -> Page:
    """The Atom feed of the recent issues, their articles in full."""
    recent = bulletin.issues[: bulletin.config.recent_issues]
    entries = feed_entries(bulletin)
    feed = {"entries": entries, "updated": _feed_updated(entries, bulletin)}
    inputs = (*known.of_issues(recent), *known.of_articles(a for i in recent for a in i.articles))
    return Page("feed.xml", "feed.xml", feed, inputs, False, True)


def common_context(bulletin: Bulletin, now: datetime, pdf: bool) -> dict[str, Any]:
    """What every template gets besides its own context."""
    return {
        "site": bulletin.config,
        "bulletin": bulletin,
        "now": now,
        "generator": f"bulletin {__version__}",
        "term_path": term_path,
        "issue_of": bulletin.issue_of,
        "pdf": pdf,
    }


def render_page(env: jinja2.Environment, page: Page, common: dict[str, Any]) -> str:
    if page.produce is not None:
        return page.produce()
    root = common["site"].base_url if page.absolute else _root(page.path)
    context = {
        **common,
        **page.context,
        "root": root,
        "page_path": "" if page.absolute else page.path,
    }
    return render_template(env, page.template, context)


def render_pages(bulletin: Bulletin, env: jinja2.Environment, *, now: datetime, pdf: bool = True):
    """Every page, feed and index of the site as (path, text)."""
    common = common_context(bulletin, now, pdf)
    for page in site_pages(bulletin, now=now, per_page=term_page_size(env.globals["theme"])):
        yield page.path, render_page(env, page, common)


def _root(path: str) -> str:
    return "../" * path.count("/")


def issue_time(issue: Issue, bulletin: Bulletin) -> datetime:
    """When an issue came out; an issue without publish_at counts from its year's start."""
    return issue.publish_at or datetime(issue.year, 1, 1, tzinfo=bulletin.config.timezone)


def feed_entries(bulletin: Bulletin) -> list[dict[str, Any]]:
    entries = []
    for issue in bulletin.issues[: bulletin.config.recent_issues]:
        out = issue_time(issue, bulletin)
        for article in issue.articles:
            # an article held back by its own publish_at (embargo) is new when released
            released = max(out, article.publish_at or out)
            entries.append({"issue": issue, "article": article, "updated": released})
    return entries


def _feed_updated(entries: list[dict[str, Any]], bulletin: Bulletin) -> datetime:
    """The feed changed last when its newest entry came out."""
    if entries:
        return max(entry["updated"] for entry in entries)
    return datetime(1970, 1, 1, tzinfo=bulletin.config.timezone)  # no entries: fixed


def search_shards(bulletin: Bulletin, known: Digests, years: set[int] | None = None) -> list[Page]:
    """The search data, one script a year (not JSON, so search also works from
    file://); an edit rewrites only its year's shard. `years`: only those years'."""
    shards = []
    for year, issues in bulletin.by_year().items():
        if years is not None and year not in years:
            continue
        articles = [a for issue in issues for a in issue.articles]
        shards.append(
            Page(
                f"assets/search/{year}.js",
                None,
                inputs=known.of_articles(articles),
                in_sitemap=False,
                produce=lambda articles=articles: search_script(bulletin, articles),
            )
        )
    return shards


def search_script(bulletin: Bulletin, articles: list[Article]) -> str:
    records = [
        {
            "t": a.title,
            "u": quote(a.url, safe="/#"),
            "i": bulletin.issue_of(a).label,
            "s": a.summary,
            "x": a.text,
            "g": list(a.tags),
        }
        for a in articles
    ]
    data = json.dumps(records, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"(window.BULLETIN_SEARCH = window.BULLETIN_SEARCH || []).push(...{data});\n"


def term_page_size(settings: dict[str, Any]) -> int:
    """The theme's `site.term_page_size` (articles on a tag's or region's page)."""
    size = (settings.get("site") or {}).get("term_page_size", TERM_PAGE_SIZE)
    return size if isinstance(size, int) and size > 0 else TERM_PAGE_SIZE

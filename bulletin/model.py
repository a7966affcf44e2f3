"""The bulletin as immutable data: config, issues, sections, articles. No I/O here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

STATUSES = ("draft", "scheduled", "published")


class RenderedBody(Protocol):
    """An article's Markdown rendered: its digest names the source and the settings."""

    digest: str

    @property
    def html(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Closing:
    """The closing block (报尾) printed at the end of every issue."""

    report_to: tuple[str, ...] = ()  # 报
    send_to: tuple[str, ...] = ()  # 送
    issue_to: tuple[str, ...] = ()  # 发
    copies: int | None = None  # 共印×份


@dataclass(frozen=True)
class Config:
    root: Path
    title: str
    compiler: str  # the compiling unit (编辑单位)
    base_url: str
    editor: str = ""
    phone: str = ""
    language: str = "zh-CN"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    theme: str = "default"
    notice: str = ""  # e.g. 内部资料 注意保存
    closing: Closing = field(default_factory=Closing)
    allow_html: bool = False
    recent_issues: int = 10

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"


@dataclass(frozen=True)
class Article:
    path: Path
    issue_id: str
    slug: str
    title: str
    body: RenderedBody  # the rendered Markdown (loaded lazily from the cache)
    subtitle: str = ""
    source: str = ""
    author: str = ""
    byline: str = ""
    date: date | None = None
    region: str = ""
    tags: tuple[str, ...] = ()
    featured: bool = True
    summary: str = ""
    images: tuple[str, ...] = ()
    publish_at: datetime | None = None  # an embargo: held back until then, even in an issue out

    @property
    def html(self) -> str:
        return self.body.html

    @property
    def text(self) -> str:
        """The plain text of the body, paragraphs separated by newlines."""
        return self.body.text

    @property
    def url(self) -> str:
        return f"issues/{self.issue_id}/{self.slug}.html"

    @property
    def anchor(self) -> str:
        """The element id of this article inside its issue's print document."""
        return f"article-{self.slug}"


@dataclass(frozen=True)
class Correction:
    """A correction (更正) to an issue that is out: published content changes only
    through one, and the site and the PDF show it."""

    date: date
    text: str
    article: str = ""  # the slug of the corrected article; empty for the issue as a whole


@dataclass(frozen=True)
class Section:
    title: str  # empty for an issue without sections
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class Issue:
    id: str
    path: Path
    year: int
    number: int
    status: str
    sections: tuple[Section, ...]
    serial: int | None = None  # 总第 N 期
    publish_at: datetime | None = None
    editor_note: str = ""
    corrections: tuple[Correction, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.year} 年第 {self.number} 期"

    @property
    def serial_label(self) -> str:
        return f"总第 {self.serial} 期" if self.serial else ""

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(a for s in self.sections for a in s.articles)

    @property
    def has_sections(self) -> bool:
        return any(s.title for s in self.sections)

    @property
    def url(self) -> str:
        return f"issues/{self.id}/index.html"

    @property
    def pdf_url(self) -> str:
        return f"issues/{self.id}/{self.id}.pdf"

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.year, self.number)

    def corrections_of(self, article: Article) -> tuple[Correction, ...]:
        return tuple(c for c in self.corrections if c.article == article.slug)

    def neighbours(self, article: Article) -> tuple[Article | None, Article | None]:
        """The previous and next article within this issue."""
        articles = self.articles
        index = next(i for i, a in enumerate(articles) if a is article)
        previous = articles[index - 1] if index > 0 else None
        following = articles[index + 1] if index + 1 < len(articles) else None
        return previous, following


@dataclass(frozen=True)
class Bulletin:
    config: Config
    issues: tuple[Issue, ...]  # newest first

    @property
    def latest(self) -> Issue | None:
        return self.issues[0] if self.issues else None

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(a for issue in self.issues for a in issue.articles)

    def issue_of(self, article: Article) -> Issue:
        return self._issues_by_id[article.issue_id]

    @cached_property
    def _issues_by_id(self) -> dict[str, Issue]:
        return {issue.id: issue for issue in self.issues}

    def by_year(self) -> dict[int, list[Issue]]:
        years: dict[int, list[Issue]] = defaultdict(list)
        for issue in self.issues:
            years[issue.year].append(issue)
        return dict(years)

    def by_tag(self) -> dict[str, list[Article]]:
        return _group(self.articles, lambda a: a.tags)

    def by_region(self) -> dict[str, list[Article]]:
        return _group(self.articles, lambda a: (a.region,) if a.region else ())

    def only(self, issues) -> Bulletin:
        return replace(self, issues=tuple(issues))


def _group(articles, keys_of) -> dict[str, list[Article]]:
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        for key in keys_of(article):
            groups[key].append(article)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))

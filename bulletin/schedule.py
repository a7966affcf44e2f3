"""Which issues and articles are out at a given moment. Pure functions: the clock is
always passed in. The builder, the preview and the publisher all ask this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from bulletin.model import Article, Bulletin, Issue


@dataclass(frozen=True)
class Visibility:
    """What a build shows: the moment it builds for, and whether to include drafts
    and issues whose publish time has not come yet (the preview shows both)."""

    now: datetime
    drafts: bool = False
    future: bool = False

    def in_zone(self, zone: tzinfo) -> Visibility:
        """A clock given without a UTC offset is read in the bulletin's time zone."""
        return self if self.now.tzinfo else replace(self, now=self.now.replace(tzinfo=zone))


def is_visible(issue: Issue, visibility: Visibility) -> bool:
    if issue.status == "draft" and not visibility.drafts:
        return False
    return not is_future(issue, visibility.now) or visibility.future


def is_future(issue: Issue, now: datetime) -> bool:
    return issue.publish_at is not None and issue.publish_at > now


def is_released(article: Article, visibility: Visibility) -> bool:
    """An article with its own publish_at (an embargo) is held back until then, also
    inside an issue that is already out."""
    embargoed = article.publish_at is not None and article.publish_at > visibility.now
    return not embargoed or visibility.future


def released_issue(issue: Issue, visibility: Visibility) -> Issue:
    """The issue without its embargoed articles; a section left empty is left out."""
    if all(is_released(a, visibility) for a in issue.articles):
        return issue
    sections = (
        replace(s, articles=tuple(a for a in s.articles if is_released(a, visibility)))
        for s in issue.sections
    )
    return replace(issue, sections=tuple(s for s in sections if s.articles))


def visible_bulletin(bulletin: Bulletin, visibility: Visibility) -> Bulletin:
    """The one visibility rule that pages, lists, feed, sitemap, search and PDFs share."""
    return bulletin.only(
        released_issue(i, visibility) for i in bulletin.issues if is_visible(i, visibility)
    )


def next_change(bulletin: Bulletin, now: datetime) -> datetime | None:
    """The first moment after `now` at which the rule above shows more than at `now`:
    the next publish_at of an issue or an article that is not a draft."""
    times = [
        moment
        for issue in bulletin.issues
        if issue.status != "draft"
        for moment in (issue.publish_at, *(a.publish_at for a in issue.articles))
        if moment is not None and moment > now
    ]
    return min(times, default=None)

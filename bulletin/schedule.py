"""Which issues are out at a given moment. Pure functions: the clock is always passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from bulletin.model import Bulletin, Issue


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


def visible_bulletin(bulletin: Bulletin, visibility: Visibility) -> Bulletin:
    """The one visibility rule that pages, lists, feed, sitemap, search and PDFs share."""
    return bulletin.only(i for i in bulletin.issues if is_visible(i, visibility))

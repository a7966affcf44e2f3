"""What a build knew of each issue folder, kept in its stamp: after edits inside some
issue folders, it tells whether only the text of their articles changed (then only
the pages showing that text are rendered again), and which other issues those pages
list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bulletin.model import Bulletin
    from bulletin.render.site import Digests

Schedules = dict[str, tuple]  # issue folder name -> its publish times (its own, its articles')


@dataclass(frozen=True)
class IssueIndex:
    """Per issue folder, by name: what lists show of it, its year, whether recent."""

    marks: dict[str, tuple]  # folder name -> (what listings show of it, its publish times)
    years: dict[str, int]  # folder name -> year, of the issues the site shows
    recent: tuple[str, ...]  # folder names of the recent issues

    @classmethod
    def of(cls, bulletin: Bulletin, schedules: Schedules, known: Digests) -> IssueIndex:
        """`bulletin`: what the site shows; `schedules`: every issue folder's publish
        times, shown or not."""
        marks = _Marks(bulletin, schedules, known)
        years = {issue.path.name: issue.year for issue in bulletin.issues}
        recent = bulletin.issues[: bulletin.config.recent_issues]
        return cls(marks.all(), years, tuple(issue.path.name for issue in recent))

    def around(self, names: list[str]) -> list[str]:
        """The folders a rebuild after edits in `names` loads: those, every issue of
        their years (their search data lists them) and the recent issues (the feed)."""
        years = {self.years[name] for name in names if name in self.years}
        wanted = {name for name, year in self.years.items() if year in years}
        return sorted(wanted.union(names, self.recent))

    def same(
        self, bulletin: Bulletin, schedules: Schedules, known: Digests, names: list[str]
    ) -> bool:
        """Whether the edited issues show in every listing what they showed, and keep
        their publish times: then only the pages showing their text can change."""
        marks = _Marks(bulletin, schedules, known)
        return all(self.marks[name] == marks.of(name) for name in names)


class _Marks:
    def __init__(self, bulletin: Bulletin, schedules: Schedules, known: Digests) -> None:
        self.shown = {issue.path.name: issue for issue in bulletin.issues}
        self.schedules, self.known = schedules, known

    def of(self, name: str) -> tuple:
        issue = self.shown.get(name)
        return (self.known.issues[issue.id] if issue else None, self.schedules.get(name))

    def all(self) -> dict[str, tuple]:
        return {name: self.of(name) for name in self.schedules}

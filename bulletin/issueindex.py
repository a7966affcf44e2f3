"""What a build knew of each issue folder, kept in its stamp: after edits inside some
issue folders, it tells whether only the text of their articles changed (then only
the pages showing that text are rendered again), and which other issues those pages
list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bulletin.build import Loaded
    from bulletin.model import Issue
    from bulletin.render.site import Digests


@dataclass(frozen=True)
class IssueIndex:
    """Per issue folder, by name: what lists show of it, its year, whether recent."""

    marks: dict[str, tuple]  # folder name -> (what listings show of it, its publish times)
    years: dict[str, int]  # folder name -> year, of the issues the site shows
    recent: tuple[str, ...]  # folder names of the recent issues

    @classmethod
    def of(cls, loaded: Loaded, known: Digests) -> IssueIndex:
        issues = loaded.bulletin.issues
        shown = {issue.path.name: issue for issue in issues}
        marks = {name: _mark(loaded, known, name, shown) for name in loaded.schedules}
        years = {issue.path.name: issue.year for issue in issues}
        recent = issues[: loaded.bulletin.config.recent_issues]
        return cls(marks, years, tuple(issue.path.name for issue in recent))

    def around(self, names: list[str]) -> list[str]:
        """The folders a rebuild after edits in `names` loads: those, every issue of
        their years (their search data lists them) and the recent issues (the feed)."""
        years = {self.years[name] for name in names if name in self.years}
        wanted = {name for name, year in self.years.items() if year in years}
        return sorted(wanted.union(names, self.recent))

    def same(self, loaded: Loaded, known: Digests, names: list[str]) -> bool:
        """Whether the edited issues show in every listing what they showed, and keep
        their publish times: then only the pages showing their text can change."""
        shown = {issue.path.name: issue for issue in loaded.bulletin.issues}
        return all(self.marks[name] == _mark(loaded, known, name, shown) for name in names)


def _mark(loaded: Loaded, known: Digests, name: str, shown: dict[str, Issue]) -> tuple:
    issue = shown.get(name)
    return (known.issues[issue.id] if issue else None, loaded.schedules.get(name))

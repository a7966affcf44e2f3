"""What a build reports: counts, the pages of the site, what it wrote and deleted, the
PDFs and the warnings. A build whose output was up to date gives back the result it
recorded, so the result pickles light, without the bulletin it was made from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bulletin.errors import Problem

if TYPE_CHECKING:
    from bulletin.model import Bulletin


@dataclass
class PdfResult:
    """One issue's PDF: here, not beside the renderer, so that reading a recorded
    result does not import the renderer."""

    issue_id: str
    pages: int
    warnings: list[str] = field(default_factory=list)
    cached: bool = False  # kept or taken from the cache, not laid out by this build


@dataclass
class BuildResult:
    output: Path | None
    title: str  # the bulletin's
    issues: int  # issues built
    articles: int  # articles built
    pages: list[str] = field(default_factory=list)  # every page of the site
    rendered: int = 0  # pages rendered (their inputs changed)
    written: list[str] = field(default_factory=list)  # files whose bytes changed
    deleted: list[str] = field(default_factory=list)  # files whose sources went away
    pdfs: list[PdfResult] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    _bulletin: Bulletin | None = field(default=None, repr=False)
    _reload: Callable[[], Bulletin] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, output: Path | None, bulletin: Bulletin, warnings: list[Problem]) -> BuildResult:
        articles = sum(len(issue.articles) for issue in bulletin.issues)
        title = bulletin.config.title
        return cls(
            output,
            title,
            len(bulletin.issues),
            articles,
            warnings=in_order(warnings),
            _bulletin=bulletin,
        )

    def again(self, output: Path, warnings: list[Problem], root: Path, edited) -> BuildResult:
        """This result for a rebuild after edits in the issue folders `edited` (names)
        that loaded only some issues, with `warnings` from that load: the warnings
        about those folders are replaced, the others kept."""
        folders = {(root / "issues" / name).resolve() for name in edited}

        def about_edited(problem: Problem) -> bool:
            where = Path(problem.path).resolve() if problem.path else None
            return where is not None and (where in folders or not folders.isdisjoint(where.parents))

        kept = [p for p in self.warnings if p not in warnings and not about_edited(p)]
        return BuildResult(
            output,
            self.title,
            self.issues,
            self.articles,
            pages=self.pages,
            warnings=in_order(kept + list(warnings)),
            pdfs=list(self.pdfs),
        )

    @property
    def bulletin(self) -> Bulletin:
        """What was built; a build that found its output up to date loads it on demand."""
        if self._bulletin is None:
            assert self._reload is not None
            self._bulletin = self._reload()
        return self._bulletin

    @property
    def pdf_pages(self) -> int:
        return sum(p.pages for p in self.pdfs)

    def __getstate__(self) -> dict:
        """Kept in the up-to-date stamp without the bulletin: reading it back must cost
        next to nothing."""
        return {**self.__dict__, "_bulletin": None, "_reload": None}


def in_order(problems: list[Problem]) -> list[Problem]:
    """Warnings by file and line: the same list however much a build loaded."""
    return sorted(problems, key=lambda p: (str(p.path or ""), p.line or 0, p.message))

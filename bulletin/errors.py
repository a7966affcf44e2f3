"""Problems found in a bulletin's files, collected and reported all at once.

Loading never stops at the first problem: every stage adds to a `Report`, and the
caller raises `BulletinError` once, so an editor fixes everything in one pass.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import click


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place in one file."""

    message: str
    path: Path | None = None
    line: int | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def location(self, root: Path | None = None) -> str:
        if self.path is None:
            return ""
        path = self.path
        if root is not None:
            with contextlib.suppress(ValueError):
                path = self.path.resolve().relative_to(root.resolve())
        return f"{path}:{self.line}" if self.line else str(path)

    def format(self, root: Path | None = None) -> str:
        where = self.location(root)
        text = f"{where}: {self.severity.value}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class Report:
    """Collects problems from every stage of loading and building."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, message: str, path=None, line=None, hint=None) -> None:
        self.problems.append(Problem(message, path, line, hint, Severity.ERROR))

    def warn(self, message: str, path=None, line=None, hint=None) -> None:
        self.problems.append(Problem(message, path, line, hint, Severity.WARNING))

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def raise_if_errors(self, root: Path | None = None) -> None:
        if self.errors:
            raise BulletinError(self.problems, root)


class BulletinError(click.ClickException):
    """Raised once with every problem found; click prints it and exits non-zero."""

    exit_code = 1

    def __init__(self, problems: list[Problem], root: Path | None = None) -> None:
        self.problems = problems
        self.root = root
        errors = sum(p.severity is Severity.ERROR for p in problems)
        lines = [p.format(root) for p in problems]
        lines.append(
            f"{errors} error(s), {len(problems) - errors} warning(s); nothing was written."
        )
        super().__init__("\n".join(lines))

    def format_message(self) -> str:
        return self.message

    def relative_to(self, root: Path) -> BulletinError:
        """The same problems, with paths shown relative to the bulletin's folder."""
        return self if self.root is not None else BulletinError(self.problems, root)

    @classmethod
    def single(cls, message: str, path=None, line=None, hint=None) -> BulletinError:
        return cls([Problem(message, path, line, hint)])

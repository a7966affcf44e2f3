"""build(): the one entry point that the CLI, the preview server and the publisher call.

Load and validate everything first; then render every page; then write into a
staging folder that replaces the output only when all of it succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.load import load_bulletin
from bulletin.model import Bulletin, Issue
from bulletin.render import fonts
from bulletin.render.pdf import PdfResult, pdf_job
from bulletin.render.pdfjobs import PdfCache, make_pdfs
from bulletin.render.site import render_pages
from bulletin.render.templates import make_environment
from bulletin.render.theme import Theme, load_theme
from bulletin.schedule import Visibility, visible_bulletin
from bulletin.write.staging import Staging

ProgressHook = Callable[[str, int, int], None]  # (issue id, done, total) as PDFs finish
CACHE_DIR = ".bulletin-cache"  # inside the bulletin; deleting it never changes the output

_SOURCE_SUFFIXES = {".md", ".yaml", ".yml"}


@dataclass
class BuildResult:
    output: Path | None
    bulletin: Bulletin
    pages: list[str] = field(default_factory=list)
    pdfs: list[PdfResult] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pdf_pages(self) -> int:
        return sum(p.pages for p in self.pdfs)


@dataclass(frozen=True)
class Loaded:
    bulletin: Bulletin  # only what is visible under the build's Visibility
    theme: Theme
    warnings: list[Problem]
    visibility: Visibility  # with `now` made time-zone aware


def load(root: Path, visibility: Visibility, *, use_cache: bool = False) -> Loaded:
    """Everything a build needs, validated; raises BulletinError with all problems."""
    report = Report()
    bulletin = load_bulletin(root, report, root / CACHE_DIR if use_cache else None)
    theme = load_theme(bulletin.config, report) if bulletin else None
    report.raise_if_errors(root)
    assert bulletin is not None and theme is not None
    visibility = visibility.in_zone(bulletin.config.timezone)
    return Loaded(visible_bulletin(bulletin, visibility), theme, report.warnings, visibility)


def check(root: Path, visibility: Visibility) -> BuildResult:
    try:
        return _check(root, visibility)
    except BulletinError as exc:
        raise exc.relative_to(root) from None


def _check(root: Path, visibility: Visibility) -> BuildResult:
    """Validate everything and render every page in memory; write nothing."""
    started = time.perf_counter()
    loaded = load(root, visibility)
    env = make_environment(loaded.theme)
    pages = [
        path for path, _ in render_pages(loaded.bulletin, env, now=loaded.visibility.now, pdf=False)
    ]
    return BuildResult(
        None,
        loaded.bulletin,
        pages,
        warnings=loaded.warnings,
        seconds=time.perf_counter() - started,
    )


def build(
    root: Path,
    output: Path,
    visibility: Visibility,
    *,
    pdf: bool = True,
    progress: ProgressHook | None = None,
    use_cache: bool = True,
) -> BuildResult:
    """Build the site (and PDFs) into `output`, which is replaced only on success."""
    try:
        return _build(root, output, visibility, pdf=pdf, progress=progress, use_cache=use_cache)
    except BulletinError as exc:
        raise exc.relative_to(root) from None


def _build(
    root: Path,
    output: Path,
    visibility: Visibility,
    *,
    pdf: bool = True,
    progress: ProgressHook | None = None,
    use_cache: bool = True,
) -> BuildResult:
    started = time.perf_counter()
    loaded = load(root, visibility, use_cache=use_cache)
    bulletin, theme = loaded.bulletin, loaded.theme
    env = make_environment(theme)
    result = BuildResult(output, bulletin, warnings=list(loaded.warnings))
    with Staging(output) as staging:
        for path, text in render_pages(bulletin, env, now=loaded.visibility.now, pdf=pdf):
            staging.write_text(path, text)
            result.pages.append(path)
        for name, source in theme.static_files().items():
            staging.copy(f"assets/{name}", source)
        for issue in bulletin.issues:
            _copy_issue_files(issue, staging)
        if pdf:
            _refuse_tofu(bulletin, root)
            jobs = [
                (pdf_job(issue, bulletin, env, theme), staging.path_for(issue.pdf_url))
                for issue in bulletin.issues
            ]
            cache = PdfCache(root / CACHE_DIR / "pdf") if use_cache else None
            result.pdfs = make_pdfs(jobs, cache, progress)
            result.warnings.extend(
                Problem(
                    f"PDF {pdf.issue_id}: {message}",
                    root / "issues" / pdf.issue_id,
                    severity=Severity.WARNING,
                )
                for pdf in result.pdfs
                for message in pdf.warnings
            )
    result.seconds = time.perf_counter() - started
    return result


def _refuse_tofu(bulletin: Bulletin, root: Path) -> None:
    """A PDF must not print blank boxes: name each missing character and its articles."""
    missing = fonts.tofu(bulletin)
    if missing:
        problems = [
            Problem(
                f"no installed font has {char!r} (U+{ord(char):04X}); the PDF would print a blank box",
                articles[0].path,
                hint=f"used in {', '.join(a.path.name for a in articles)}; install a font "
                "that covers it (see `bulletin fonts`) or replace the character",
            )
            for char, articles in sorted(missing.items())
        ]
        raise BulletinError(problems, root)


def _copy_issue_files(issue: Issue, staging: Staging) -> None:
    """Images and other files an issue's articles link to, beside its pages."""
    for source in sorted(issue.path.rglob("*")):
        if source.is_file() and _is_asset(source):
            relative = source.relative_to(issue.path).as_posix()
            staging.copy(f"issues/{issue.id}/{relative}", source)


def _is_asset(path: Path) -> bool:
    """Not a source file, and not an editor's temp, swap or backup file."""
    name = path.name
    junk = name.startswith((".", "~", "#")) or name.endswith(("~", ".swp", ".tmp"))
    return path.suffix not in _SOURCE_SUFFIXES and not junk

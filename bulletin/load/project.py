"""Load a whole bulletin: config, every issue, every article; all problems at once."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from bulletin.errors import Report
from bulletin.load.config import load_config
from bulletin.load.issues import ISSUE_FILE, load_issue
from bulletin.load.parsecache import ParseCache
from bulletin.load.yamlfile import key_line
from bulletin.model import Bulletin, Issue


def load_bulletin(
    root: Path, report: Report, cache: ParseCache | None = None, only: list[str] | None = None
) -> Bulletin | None:
    """Read and validate everything; the caller decides what the problems mean. `only`
    names the issue folders to load, for a rebuild that knows the others unchanged
    (their numbering is then not checked again)."""
    config = load_config(root, report)
    if config is None:
        return None
    cache = cache or ParseCache(None)  # without a cache folder: in memory, for this build
    cache.begin(config)
    if only is None:
        folders = _issue_folders(config.issues_dir, report)
    else:
        folders = [config.issues_dir / name for name in only]
    changed = cache.changed(folders)
    cache.prefetch(
        [folder / name for folder in changed for name in (ISSUE_FILE, *_markdown_files(folder))],
        config,
    )
    issues = []
    for folder in folders:
        load = functools.partial(load_issue, folder, config, cache=cache)
        issue = cache.issue(folder, load, report)
        if issue is not None:
            issues.append(issue)
    if only is None:
        _check_numbering(issues, report)
    issues.sort(key=lambda i: i.sort_key, reverse=True)
    if not report.errors:
        cache.save(folders, forget_others=only is None)
    return Bulletin(config=config, issues=tuple(issues))


def _markdown_files(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.name.endswith(".md") and e.is_file())


def _issue_folders(issues_dir: Path, report: Report) -> list[Path]:
    if not issues_dir.is_dir():
        report.warn(
            f"no issues folder at {issues_dir}", hint="create one with `bulletin new issue`"
        )
        return []
    folders = []
    for folder in sorted(p for p in issues_dir.iterdir() if p.is_dir()):
        if (folder / ISSUE_FILE).is_file():
            folders.append(folder)
        elif not folder.name.startswith((".", "_")):
            report.warn(f"folder {folder.name} has no {ISSUE_FILE} and is skipped", folder)
    return folders


def _check_numbering(issues: list[Issue], report: Report) -> None:
    seen: dict[tuple[int, int], Issue] = {}
    for issue in issues:
        other = seen.setdefault(issue.sort_key, issue)
        if other is not issue:
            report.error(
                f"two issues are {issue.label}: {other.id} and {issue.id}",
                issue.path / ISSUE_FILE,
                key_line(issue.path / ISSUE_FILE, "number"),
                hint="change `year:` or `number:` in one of them",
            )

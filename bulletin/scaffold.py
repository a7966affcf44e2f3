"""`bulletin new`: write valid starting files for an issue or an article."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from bulletin.errors import BulletinError
from bulletin.load.issues import ISSUE_FILE
from bulletin.model import Config

_ASCII_WORDS = re.compile(r"[a-z0-9]+")


def new_issue(config: Config, now: datetime, year: int | None, number: int | None) -> Path:
    """issues/<year>-<number>/issue.yaml as a draft; by default the issue after the last one."""
    year = year or now.year
    if number is None:
        taken = [int(m.group(1)) for m in _numbers_in(config.issues_dir, year)]
        number = max(taken, default=0) + 1
    folder = config.issues_dir / f"{year}-{number:02d}"
    if folder.exists():
        raise BulletinError.single(
            f"issue folder {folder} already exists", hint="choose another --number"
        )
    folder.mkdir(parents=True)
    (folder / ISSUE_FILE).write_text(
        f"year: {year}\n"
        f"number: {number}\n"
        "status: draft            # draft | scheduled | published\n"
        f"publish_at: {now:%Y-%m-%d} 09:00\n"
        "# editor_note: 编者按……\n"
        "# the article file names (without .md), in order:\n"
        "articles: []\n",
        encoding="utf-8",
    )
    return folder


def new_article(config: Config, issue_id: str, title: str, slug: str | None) -> Path:
    """issues/<id>/<slug>.md with front matter, appended to the issue's article list."""
    folder = config.issues_dir / issue_id
    if not (folder / ISSUE_FILE).is_file():
        raise BulletinError.single(
            f"there is no issue {issue_id!r}",
            folder / ISSUE_FILE,
            hint="create it first with `bulletin new issue`",
        )
    slug = slug or _free_name(folder, "-".join(_ASCII_WORDS.findall(title.lower())) or "article")
    path = folder / f"{slug}.md"
    if path.exists():
        raise BulletinError.single(f"{path} already exists", hint="choose another --slug")
    quoted = title.replace('"', '\\"')
    path.write_text(
        f'---\ntitle: "{quoted}"\nsource: \nauthor: \nregion: \ntags: []\n---\n\n正文……\n',
        encoding="utf-8",
    )
    _append_to_issue(folder / ISSUE_FILE, slug)
    return path


def _numbers_in(issues_dir: Path, year: int):
    if issues_dir.is_dir():
        for child in issues_dir.iterdir():
            match = re.fullmatch(rf"{year}-(\d+)", child.name)
            if match:
                yield match


def _free_name(folder: Path, base: str) -> str:
    name, n = base, 1
    while (folder / f"{name}.md").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _append_to_issue(path: Path, slug: str) -> None:
    """Add the article to a flat `articles:` list, keeping the file's comments."""
    text = path.read_text(encoding="utf-8")
    empty = re.compile(r"^articles:\s*\[\s*\]", re.M)
    block = re.compile(r"^articles:[ \t]*(#.*)?\n((?:[ \t]+-.*\n?)*)", re.M)
    if empty.search(text):
        text = empty.sub(f"articles:\n  - {slug}", text, count=1)
    elif match := block.search(text):
        items = match.group(2)
        items = items if items.endswith("\n") or not items else items + "\n"
        text = text[: match.start(2)] + items + f"  - {slug}\n" + text[match.end(2) :]
    else:
        raise BulletinError.single(
            f"created {slug}.md, but could not add it to {path.name}",
            path,
            hint=f"add `{slug}` to the right section's articles by hand",
        )
    path.write_text(text, encoding="utf-8")

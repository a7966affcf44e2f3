"""Helpers for the publishing tests: run `bulletin publish` / `schedule` for a moment,
read the publish log and the deployed site as a user would."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

LOG = "publish-log.jsonl"
BULLETIN = str(Path(sys.executable).with_name("bulletin"))  # the installed command


def configure(folder, text: str) -> None:
    """Append settings to the bulletin's bulletin.yaml."""
    path = folder.root / "bulletin.yaml"
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def no_pdf(folder) -> None:
    """Publish without PDFs: most tests are about time and state, not print."""
    configure(folder, "deploy:\n  pdf: false\n")


def publish(cli, folder, now: str, *options: str):
    return cli("-C", folder.root, "publish", "--now", now, *options)


def schedule(cli, folder, now: str):
    return cli("-C", folder.root, "schedule", "--now", now)


def records(folder, event: str | None = None, issue: str | None = None) -> list[dict]:
    path = folder.root / LOG
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [
        r
        for r in found
        if (event is None or r["event"] == event) and (issue is None or r["issue"] == issue)
    ]


def events(folder, issue: str | None = None) -> list[str]:
    return [r["event"] for r in records(folder, issue=issue)]


def site(folder) -> Path:
    """The default deploy folder."""
    return folder.root / "public"


def issue_pages(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "issues").glob("*/index.html"))


def row(output: str, key: str) -> str:
    """The line of `bulletin schedule`'s table that starts with the issue (or article) key."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0].lstrip("└ ").strip() == key:
            return line
    raise AssertionError(f"no row {key!r} in:\n{output}")


def environment(**extra: str) -> dict[str, str]:
    """The environment for a `bulletin` subprocess, with the venv's bin first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(BULLETIN).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def have(command: str) -> bool:
    return shutil.which(command) is not None

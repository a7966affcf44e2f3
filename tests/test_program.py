"""The installed `bulletin` program, run as a user runs it: a process of its own,
which ends without tearing the interpreter down (see `bulletin.cli.run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = Path(sys.executable).parent / "bulletin"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PROGRAM), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_build_prints_its_summary_and_exits_0(folder):
    folder.issue("2024-01")
    done = run("-C", str(folder.root), "build", "--no-pdf")
    assert done.returncode == 0, done.stderr
    assert "articles  2" in done.stderr
    assert (folder.root / "site/issues/2024-01/first.html").is_file()


def test_a_bad_article_exits_1_and_names_the_file_and_line(folder):
    folder.issue("2024-01")
    folder.write("issues/2024-01/first.md", "---\ntitle: [unclosed\n---\n正文\n")
    done = run("-C", str(folder.root), "build", "--no-pdf")
    assert done.returncode == 1
    assert "first.md:3" in done.stderr
    assert not (folder.root / "site").exists()


def test_a_usage_error_exits_2_and_help_exits_0():
    assert run("build", "--no-such-option").returncode == 2
    helped = run("--help")
    assert helped.returncode == 0 and "build" in helped.stdout


def test_output_piped_away_is_flushed_before_the_process_ends(folder, tmp_path):
    """Output written to a file, not a terminal, is buffered: it must be flushed
    before the fast exit, or the summary is lost."""
    folder.issue("2024-01")
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        code = subprocess.call(
            [
                str(PROGRAM),
                "-C",
                str(folder.root),
                "new",
                "article",
                "2024-01",
                "第三篇",
                "--slug",
                "third",
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert code == 0
    assert "third.md" in log.read_text()

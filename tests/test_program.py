"""The installed `bulletin` program, run as a user runs it: a process of its own,
which ends without tearing the interpreter down (see `bulletin.cli.run`)."""

from __future__ import annotations

import os
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


def test_closed_output_streams_do_not_fail_a_build(folder):
    """A cron job or supervisor may close stdout and stderr: a build that succeeded
    still exits 0 (Python then sets sys.stdout and sys.stderr to None)."""
    folder.issue("2024-01")
    command = f"exec {PROGRAM} -C {folder.root} build --no-pdf >&- 2>&-"
    assert subprocess.call(["sh", "-c", command], timeout=120) == 0
    assert (folder.root / "site/issues/2024-01/first.html").is_file()


def test_a_rebuild_with_a_pdf_leaves_no_temporary_fonts(folder, tmp_path):
    """WeasyPrint copies @font-face fonts into a temporary folder that it removes
    only when a reference cycle is collected; the build removes it itself."""
    folder.issue("2024-01")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**os.environ, "TMPDIR": str(temporary)}
    for edit in range(2):  # a cold build, then one PDF laid out in the process
        if edit:
            with (folder.root / "issues/2024-01/first.md").open("a") as stream:
                stream.write("\n补充的一句。\n")
        done = subprocess.run(
            [str(PROGRAM), "-C", str(folder.root), "build"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "PDFs      1 (" in done.stderr
        assert list(temporary.glob("weasyprint-*")) == []

"""Shared fixtures: small bulletins written into a temporary folder, and the CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulletin.cli import main

REPO = Path(__file__).resolve().parent.parent

CONFIG = """\
title: 测试简报
compiler: 测试单位综合保障中心
editor: 王编辑
phone: "1234567"
base_url: https://example.org/test/
"""

ARTICLE = """\
---
title: {title}
source: 科技日报
region: 内蒙古
tags: [科技创新]
---

{body}
"""


class BulletinFolder:
    """A bulletin on disk that a test can shape file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("bulletin.yaml", CONFIG)

    def write(self, relative: str, text: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def issue(
        self,
        issue_id: str = "2024-01",
        *,
        articles: dict[str, str] | None = None,
        status: str = "published",
        publish_at: str = "2024-01-15 09:00",
        extra: str = "",
    ) -> Path:
        """An issue whose articles are {stem: title}; bodies are generated."""
        articles = articles or {"first": "第一篇文章", "second": "第二篇文章"}
        year, number = issue_id.split("-")
        listing = "".join(f"  - {stem}\n" for stem in articles)
        self.write(
            f"issues/{issue_id}/issue.yaml",
            f"year: {int(year)}\nnumber: {int(number)}\nstatus: {status}\n"
            f"publish_at: {publish_at}\n{extra}articles:\n{listing}",
        )
        for stem, title in articles.items():
            body = f"{title}的正文第一段。\n\n{title}的正文第二段。"
            self.write(f"issues/{issue_id}/{stem}.md", ARTICLE.format(title=title, body=body))
        return self.root / "issues" / issue_id


@pytest.fixture
def folder(tmp_path: Path) -> BulletinFolder:
    return BulletinFolder(tmp_path / "bulletin")


@pytest.fixture
def cli():
    """Run `bulletin ARGS…`; returns click's Result (exit_code, output)."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright: one for the whole session, shared by
    every browser test (Playwright's sync API runs an event loop in this thread)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is missing: run `make test`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


SAMPLE_NOW = "2024-03-01T09:00"  # both sample issues are out by then


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory) -> Path:
    """The sample bulletin of this repository, built once with its PDFs."""
    output = tmp_path_factory.mktemp("sample") / "site"
    result = CliRunner().invoke(
        main, ["-C", str(REPO), "build", "-o", str(output), "--now", SAMPLE_NOW]
    )
    assert result.exit_code == 0, result.output
    return output


@pytest.fixture(scope="session")
def sample():
    """The sample bulletin as loaded by bulletin itself (all issues)."""
    from bulletin.errors import Report
    from bulletin.load.project import load_bulletin

    report = Report()
    bulletin = load_bulletin(REPO, report)
    assert not report.errors, [p.format() for p in report.errors]
    return bulletin

"""`bulletin serve` for real: the command in a child process, pages in headless Chromium.

Every wait is Playwright's own (auto-retrying assertions with a generous timeout);
nothing here sleeps or reloads the page by hand.
"""

from __future__ import annotations

import io

import pytest

from tests.serving import atomic_write, serving

pytestmark = pytest.mark.browser

TIMEOUT = 30_000  # ms


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    return expect


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT)
    yield page
    page.close()


def article(title: str, body: str = "正文。") -> str:
    return (
        f"---\ntitle: {title}\nsource: 科技日报\nregion: 内蒙古\ntags: [科技创新]\n---\n\n{body}\n"
    )


def test_edits_errors_fixes_and_deletions_show_up_without_a_reload(folder, page, expect):
    issue = folder.issue(
        "2024-01", articles={"first": "第一篇文章", "second": "第二篇文章", "third": "第三篇文章"}
    )
    with serving(folder.root, "--no-pdf") as server:
        page.goto(server.url)
        contents = page.locator(".contents-list")
        expect(contents).to_contain_text("第二篇文章")
        reloads = []
        page.on("load", lambda _: reloads.append(page.url))

        # an edit (saved atomically, as editors do) appears by itself
        atomic_write(issue / "first.md", article("第一篇文章（修订稿）"))
        expect(contents).to_contain_text("第一篇文章（修订稿）")

        # broken front matter: the overlay names file and line, the last good page stays
        atomic_write(
            issue / "first.md", "---\ntitle: [未闭合的列表\nsource: 科技日报\n---\n\n正文。\n"
        )
        overlay = page.locator("bulletin-preview .overlay")
        expect(overlay).to_be_visible()
        expect(overlay).to_contain_text("构建失败")
        expect(overlay).to_contain_text("issues/2024-01/first.md:")
        expect(contents).to_contain_text("第一篇文章（修订稿）")

        # the next good save clears it
        atomic_write(issue / "first.md", article("第一篇文章（定稿）"))
        expect(contents).to_contain_text("第一篇文章（定稿）")
        expect(page.locator("bulletin-preview .overlay")).to_be_hidden()

        # a deleted article leaves the contents
        text = (issue / "issue.yaml").read_text(encoding="utf-8").replace("  - second\n", "")
        atomic_write(issue / "issue.yaml", text)
        (issue / "second.md").unlink()
        expect(contents).not_to_contain_text("第二篇文章")
        expect(contents).to_contain_text("第三篇文章")
        # the page reloaded itself (a reload that overtakes another one's load event
        # leaves one "load" for both, so this counts at least one, not one per save)
        assert reloads and all(url == server.url for url in reloads)


def test_drafts_and_scheduled_issues_carry_a_banner(folder, page, expect):
    folder.issue("2024-01")
    folder.issue("2024-02", status="draft", articles={"draft-article": "草稿中的文章"})
    folder.issue(
        "2099-01", status="scheduled", publish_at="2099-02-01 09:00", articles={"later": "以后"}
    )
    with serving(folder.root, "--no-pdf") as server:
        page.goto(server.url + "issues/2024-02/draft-article.html")
        expect(page.locator(".status-banner")).to_have_text("草稿")
        page.goto(server.url + "issues/2099-01/index.html")
        expect(page.locator(".status-banner")).to_have_text("定时发布 2099-02-01 09:00")
        page.goto(server.url + "issues/2024-01/index.html")
        expect(page.locator("h1.masthead-title")).to_be_visible()
        assert page.locator(".status-banner").count() == 0


@pytest.mark.pdf
def test_the_pdf_of_the_issue_being_edited_is_remade_and_announced(folder, page, expect):
    from pypdf import PdfReader

    issue = folder.issue("2024-01")
    with serving(folder.root) as server:
        page.goto(server.url + "issues/2024-01/index.html")
        chip = page.locator("bulletin-preview .chip.pdf")
        expect(chip).to_contain_text("本期 PDF")
        atomic_write(issue / "first.md", article("改过标题的文章", "改过的正文。"))
        expect(page.locator(".contents-list")).to_contain_text("改过标题的文章")  # HTML first
        expect(chip).to_contain_text("本期 PDF 已更新")
        response = page.request.get(server.url + "issues/2024-01/2024-01.pdf")
        assert response.ok
        assert response.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
        assert "改过标题的文章" in text.replace(" ", "")

"""The built site in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser):
    page = browser.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
    yield page
    page.close()


@pytest.fixture(scope="module")
def served(sample_site):
    """The site served over HTTP from a sub-folder, /bulletin/, as a real host would."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(sample_site.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{sample_site.name}/"
    server.shutdown()


def test_home_on_a_phone_fits_the_screen_and_leads_to_an_article(phone, sample_site, sample):
    phone.goto((sample_site / "index.html").as_uri())
    assert phone.locator(".masthead-title").inner_text() == "科技情报参考"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    first = sample.latest.articles[0]
    phone.locator(".contents-list a").first.click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == first.title
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375


def test_article_pager_walks_through_the_issue(phone, sample_site, sample):
    issue = sample.issues[-1]
    phone.goto((sample_site / issue.articles[0].url).as_uri())
    for article in issue.articles[1:]:
        phone.locator("a[rel=next]").click()
        phone.wait_for_load_state()
        assert phone.locator("h1").inner_text() == article.title
    assert phone.locator("a[rel=next]").count() == 0


def test_search_finds_chinese_words_without_a_server(phone, sample_site, sample):
    phone.goto((sample_site / "search" / "index.html").as_uri())
    phone.fill("#q", "稀土")
    results = phone.locator("#search-results li")
    expected = [a for a in sample.articles if "稀土" in a.title + a.text]
    assert results.count() == len(expected) > 0
    assert "找到" in phone.locator("#search-status").inner_text()
    results.first.locator("a").click()
    phone.wait_for_load_state()
    assert "稀土" in phone.locator("main").inner_text()


def test_site_works_from_a_sub_folder_over_http(browser, served, sample):
    page = browser.new_page()
    page.goto(served + "index.html")
    page.get_by_role("link", name="往期").first.click()
    page.get_by_role("link", name="2024 年第 1 期").first.click()
    page.wait_for_load_state()
    assert page.url == served + "issues/2024-01/index.html"
    pdf = page.locator("a[download]").get_attribute("href")
    response = page.request.get(served + "issues/2024-01/" + pdf)
    assert response.ok and response.body()[:5] == b"%PDF-"
    search = page.request.get(served + "search/index.html?q=人才")
    assert search.ok
    page.close()

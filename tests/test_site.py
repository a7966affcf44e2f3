"""The built website: every link resolves, the feed parses, the sitemap is complete."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import feedparser

BASE = "https://example.org/kjqbck/"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if attrs.get("id"):
            self.ids.add(attrs["id"])


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_internal_link_and_asset_resolves(sample_site):
    broken = []
    for page in html_pages(sample_site):
        links = parse(page)
        for link in links.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue
            assert not link.startswith("/"), f"{page}: root-absolute link {link} breaks file://"
            if not parts.path:
                if parts.fragment and parts.fragment not in links.ids:
                    broken.append((page, link))
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                broken.append((page.relative_to(sample_site), link))
    assert not broken


def test_site_has_the_pages_an_editor_expects(sample_site, sample):
    expected = [
        "index.html",
        "archive/index.html",
        "archive/2024/index.html",
        "tags/index.html",
        "regions/index.html",
        "search/index.html",
        "404.html",
        "feed.xml",
        "sitemap.xml",
    ]
    for issue in sample.issues:
        expected += [issue.url, issue.pdf_url] + [a.url for a in issue.articles]
    missing = [p for p in expected if not (sample_site / p).is_file()]
    assert not missing


def test_issue_page_has_masthead_starred_contents_and_pdf_link(sample_site, sample):
    issue = next(i for i in sample.issues if i.id == "2024-01")
    html = (sample_site / issue.url).read_text(encoding="utf-8")
    assert "科技情报参考" in html and "2024 年第 1 期" in html
    assert "呼和浩特市科学技术局综合保障中心" in html
    assert html.count("★") == 6
    positions = [html.index(a.title) for a in issue.articles]
    assert positions == sorted(positions), "contents not in the issue's order"
    assert 'href="2024-01.pdf"' in html


def test_article_page_links_within_its_issue(sample_site, sample):
    issue = next(i for i in sample.issues if i.id == "2024-02")
    second = issue.articles[1]
    html = (sample_site / second.url).read_text(encoding="utf-8")
    assert f"<h1>{second.title}</h1>" in html.replace("&#34;", '"')
    assert f'href="{issue.articles[0].slug}.html"' in html  # previous
    assert f'href="{issue.articles[2].slug}.html"' in html  # next
    assert 'href="index.html"' in html  # back to the issue
    assert f"来源：{second.source}" in html and second.byline in html


def test_latest_issue_is_on_the_home_page(sample_site):
    html = (sample_site / "index.html").read_text(encoding="utf-8")
    assert "2024 年第 2 期" in html.split("近期各期")[0]
    assert "2024 年第 1 期" in html.split("近期各期")[1]


def test_feed_parses_with_absolute_links(sample_site, sample):
    feed = feedparser.parse((sample_site / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "科技情报参考"
    assert len(feed.entries) == len(sample.articles)
    for entry in feed.entries:
        assert entry.link.startswith(BASE)
        assert entry.get("updated_parsed")
    titles = {e.title for e in feed.entries}
    assert {a.title for a in sample.articles} == titles


def test_sitemap_lists_every_page_with_absolute_urls(sample_site):
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ElementTree.parse(sample_site / "sitemap.xml").getroot()
    listed = {loc.text for loc in root.findall("s:url/s:loc", namespace)}
    pages = {BASE + p.relative_to(sample_site).as_posix() for p in html_pages(sample_site)} - {
        BASE + "404.html"
    }
    assert {unquote(u) for u in listed} == pages


def test_tag_and_region_pages_list_their_articles(sample_site, sample):
    for kind, groups in (("tags", sample.by_tag()), ("regions", sample.by_region())):
        index = (sample_site / kind / "index.html").read_text(encoding="utf-8")
        for term, articles in groups.items():
            assert term in index
            folder = sample_site / kind / term
            html = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.html"))
            assert all(a.title in html.replace("&#34;", '"') for a in articles), folder


def test_search_index_covers_every_article(sample_site, sample):
    """One script a year, each adding its articles to window.BULLETIN_SEARCH."""
    shards = sorted((sample_site / "assets" / "search").glob("*.js"))
    assert [p.stem for p in shards] == sorted(str(year) for year in sample.by_year())
    script = "".join(p.read_text(encoding="utf-8") for p in shards)
    assert script.startswith("(window.BULLETIN_SEARCH = window.BULLETIN_SEARCH || []).push(")
    for article in sample.articles:
        assert article.title in script
        assert article.text.split("\n")[0] in script


def test_build_of_a_subfolder_site_uses_no_root_relative_urls(sample_site):
    for page in html_pages(sample_site):
        assert 'href="/' not in page.read_text(encoding="utf-8"), page


def test_a_long_tag_listing_is_split_into_linked_pages(folder, cli, tmp_path):
    stems = {f"a{n}": f"第{n}篇文章" for n in range(5)}
    folder.issue(articles=stems)
    folder.write("themes/default/theme.yaml", "site:\n  term_page_size: 2\n")
    out = tmp_path / "out"
    assert (
        cli(
            "-C", folder.root, "build", "--no-pdf", "-o", out, "--now", "2024-03-01T09:00"
        ).exit_code
        == 0
    )
    pages = [out / "tags/科技创新" / name for name in ("index.html", "page-2.html", "page-3.html")]
    texts = [p.read_text(encoding="utf-8") for p in pages]
    for title in stems.values():
        assert sum(title in text for text in texts) == 1, title  # on exactly one page
    assert 'rel="next" href="page-2.html"' in texts[0] and 'rel="prev"' not in texts[0]
    assert (
        'rel="prev" href="index.html"' in texts[1] and 'rel="next" href="page-3.html"' in texts[1]
    )
    assert "第 3 页，共 3 页" in texts[2] and not (out / "tags/科技创新/page-4.html").exists()
    assert all("5 篇" in text for text in texts)

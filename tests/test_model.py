"""The content model (loading the sample, times, visibility, Markdown) and `bulletin new`."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bulletin.errors import Report
from bulletin.load.project import load_bulletin
from bulletin.markdown import render
from bulletin.model import Issue
from bulletin.schedule import Visibility, is_visible

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


def load(root: Path):
    report = Report()
    bulletin = load_bulletin(root, report)
    assert not report.errors, [p.format(root) for p in report.errors]
    return bulletin


def issue_by_id(bulletin, issue_id: str) -> Issue:
    return next(i for i in bulletin.issues if i.id == issue_id)


# --- the sample bulletin ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return load(REPO)


def test_sample_issues_are_newest_first(sample):
    assert [i.id for i in sample.issues] == ["2024-02", "2024-01"]
    assert sample.latest.id == "2024-02"


def test_sample_issue_keeps_the_article_order_of_issue_yaml(sample):
    assert [a.slug for a in issue_by_id(sample, "2024-01").articles] == [
        "neimenggu-huboewu",
        "sichuan-mianyang-rencai",
        "ningxia-keji-tizhi-gaige",
        "ningbo-haishu-ying-keji",
        "sichuan-bazhong-xiangmu-guanli",
        "zhejiang-quzhou-chuangxin",
    ]


def test_issue_label(sample):
    assert issue_by_id(sample, "2024-01").label == "2024 年第 1 期"


def test_sample_sections_have_titles(sample):
    issue = issue_by_id(sample, "2024-02")
    assert [s.title for s in issue.sections] == ["区域创新", "园区聚焦", "地方动态"]
    assert all(s.articles for s in issue.sections)
    assert issue.has_sections
    assert not issue_by_id(sample, "2024-01").has_sections


def test_flat_article_list_is_one_untitled_section(sample):
    [section] = issue_by_id(sample, "2024-01").sections
    assert section.title == "" and len(section.articles) == 6


# --- fields of issues and articles ---------------------------------------------------------------


def test_serial_label(folder):
    folder.issue("2024-01", extra="serial: 3\n")
    folder.issue("2024-02")
    bulletin = load(folder.root)
    assert issue_by_id(bulletin, "2024-01").serial_label == "总第 3 期"
    assert issue_by_id(bulletin, "2024-02").serial_label == ""


def test_featured_defaults_to_true(folder):
    folder.issue()
    folder.write("issues/2024-01/second.md", "---\ntitle: 次要\nfeatured: false\n---\n\n正文。\n")
    first, second = load(folder.root).issues[0].articles
    assert first.featured is True
    assert second.featured is False


def test_slug_defaults_to_the_file_name_and_can_be_set(folder):
    folder.issue()
    folder.write("issues/2024-01/second.md", "---\ntitle: 次要\nslug: other\n---\n\n正文。\n")
    first, second = load(folder.root).issues[0].articles
    assert (first.slug, second.slug) == ("first", "other")
    assert second.url == "issues/2024-01/other.html"


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("2024-01-15 09:00", 8),  # naive: the bulletin's zone, Asia/Shanghai by default
        ("2024-01-15 09:00:00", 8),  # a YAML timestamp, also naive
        ("2024-01-15T09:00+02:00", 2),
        ("2024-01-15 09:00:00+02:00", 2),  # a YAML timestamp with an offset
    ],
)
def test_publish_at_is_read_in_the_bulletins_zone_unless_it_has_an_offset(folder, written, offset):
    folder.issue(publish_at=written)
    publish_at = load(folder.root).issues[0].publish_at
    assert publish_at.utcoffset() == timedelta(hours=offset)
    assert (publish_at.hour, publish_at.minute) == (9, 0)


def test_timezone_setting_changes_how_naive_publish_at_is_read(folder):
    config = folder.root.joinpath("bulletin.yaml").read_text()
    folder.write("bulletin.yaml", config + "timezone: Europe/Berlin\n")
    folder.issue("2024-01", publish_at="2024-01-15 09:00")  # winter: +1
    folder.issue("2024-07", publish_at="2024-07-15 09:00")  # summer: +2
    bulletin = load(folder.root)
    assert issue_by_id(bulletin, "2024-01").publish_at.utcoffset() == timedelta(hours=1)
    assert issue_by_id(bulletin, "2024-07").publish_at.utcoffset() == timedelta(hours=2)


# --- visibility -------------------------------------------------------------------------------


def an_issue(status: str = "published", publish_at: datetime | None = None) -> Issue:
    return Issue(
        id="2024-02",
        path=Path("issues/2024-02"),
        year=2024,
        number=2,
        status=status,
        sections=(),
        publish_at=publish_at,
    )


AT = datetime(2024, 2, 20, 9, 0, tzinfo=SHANGHAI)


def test_draft_is_hidden_unless_drafts_are_asked_for():
    draft = an_issue("draft", AT)
    later = AT + timedelta(days=1)
    assert not is_visible(draft, Visibility(later))
    assert is_visible(draft, Visibility(later, drafts=True))


def test_issue_is_hidden_before_publish_at_unless_future_is_asked_for():
    issue = an_issue("scheduled", AT)
    just_before = AT - timedelta(microseconds=1)
    assert not is_visible(issue, Visibility(just_before))
    assert is_visible(issue, Visibility(just_before, future=True))


def test_issue_is_visible_at_exactly_publish_at():
    assert is_visible(an_issue("scheduled", AT), Visibility(AT))
    same_moment_in_utc = AT.astimezone(ZoneInfo("UTC"))
    assert is_visible(an_issue("published", AT), Visibility(same_moment_in_utc))


def test_published_issue_without_publish_at_is_always_visible():
    assert is_visible(
        an_issue("published", None), Visibility(datetime(2000, 1, 1, tzinfo=SHANGHAI))
    )


def test_future_draft_needs_both_drafts_and_future():
    draft = an_issue("draft", AT)
    before = AT - timedelta(hours=1)
    assert not is_visible(draft, Visibility(before, drafts=True))
    assert is_visible(draft, Visibility(before, drafts=True, future=True))


@pytest.fixture
def three_issues(folder):
    folder.issue("2024-01", publish_at="2024-01-15 09:00")
    folder.issue("2024-02", status="scheduled", publish_at="2024-02-20 09:00")
    folder.issue("2024-03", status="draft", publish_at="2024-01-20 09:00")
    return folder


def built_issues(cli, folder, out: Path, *options: str) -> list[str]:
    result = cli("-C", folder.root, "build", "--no-pdf", "-o", out, *options)
    assert result.exit_code == 0, result.output
    return sorted(p.parent.name for p in (out / "issues").glob("*/index.html"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--now", "2024-02-20T08:59"], ["2024-01"]),
        (["--now", "2024-02-20T09:00"], ["2024-01", "2024-02"]),
        (["--now", "2024-02-20T00:59+00:00"], ["2024-01"]),  # 08:59 in Shanghai
        (["--now", "2024-02-20T01:00+00:00"], ["2024-01", "2024-02"]),
        (["--now", "2024-02-20T08:59", "--future"], ["2024-01", "2024-02"]),
        (["--now", "2024-02-20T09:00", "--drafts"], ["2024-01", "2024-02", "2024-03"]),
    ],
)
def test_build_shows_the_issues_visible_at_now(three_issues, cli, tmp_path, options, expected):
    assert built_issues(cli, three_issues, tmp_path / "out", *options) == expected


def test_hidden_issue_leaves_no_trace_in_the_site(three_issues, cli, tmp_path):
    out = tmp_path / "out"
    built_issues(cli, three_issues, out, "--now", "2024-02-20T08:59")
    assert not (out / "issues" / "2024-02").exists()
    assert "2024-02" not in (out / "index.html").read_text(encoding="utf-8")
    assert "2024-02" not in (out / "sitemap.xml").read_text(encoding="utf-8")


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_tables():
    html = render("| 地区 | 项目 |\n|---|---|\n| 包头 | 稀土 |\n", doc_id="a").html
    assert "<table>" in html
    assert "<th>地区</th>" in html and "<td>稀土</td>" in html


FOOTNOTED = "正文[^1]。\n\n[^1]: 注释。\n"


def ids_of(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def test_footnote_ids_are_prefixed_so_two_articles_can_share_a_page():
    one = render(FOOTNOTED, doc_id="neimenggu").html
    two = render(FOOTNOTED, doc_id="ningxia").html
    assert "注释。" in one and 'class="footnote-ref"' in one
    assert ids_of(one) and all("neimenggu" in i for i in ids_of(one))
    assert not ids_of(one) & ids_of(two)
    links = set(re.findall(r'href="#([^"]+)"', one))
    assert links == ids_of(one)  # every footnote link points at an id of the same article


def test_image_alone_in_a_paragraph_becomes_a_figure_with_caption():
    html = render("![呼包鄂乌示意图](images/map.png)\n", doc_id="a").html
    assert re.search(
        r'<figure><img src="images/map.png" alt="呼包鄂乌示意图"[^>]*>'
        r"<figcaption>呼包鄂乌示意图</figcaption></figure>",
        html,
    ), html
    assert "<p>" not in html


def test_image_inside_text_stays_inline():
    html = render("见图![图](images/map.png)所示。\n", doc_id="a").html
    assert "<figure>" not in html and "<figcaption>" not in html
    assert html.startswith("<p>见图<img ")


@pytest.mark.parametrize("line", ["（1）加强平台建设。", "(1) 加强平台建设。", "一是……二是……"])
def test_chinese_enumerations_are_kept_as_written(line):
    html = render(f"{line}\n", doc_id="a").html
    assert html == f"<p>{line}</p>\n"


# --- bulletin new -----------------------------------------------------------------------------


def new_issue(cli, folder, *options: str):
    result = cli("-C", folder.root, "new", "issue", *options)
    assert result.exit_code == 0, result.output
    return result


def check(cli, folder):
    result = cli("-C", folder.root, "check", "--now", "2025-01-01T09:00")
    assert result.exit_code == 0, result.output
    return result


def test_new_issue_creates_a_draft_that_loads(folder, cli):
    new_issue(cli, folder, "--year", "2025", "--number", "3", "--now", "2025-01-01T09:00")
    assert (folder.root / "issues" / "2025-03" / "issue.yaml").is_file()
    assert "0 warning(s)" in check(cli, folder).output
    [issue] = load(folder.root).issues
    assert (issue.id, issue.year, issue.number, issue.status) == ("2025-03", 2025, 3, "draft")
    assert issue.publish_at == datetime(2025, 1, 1, 9, 0, tzinfo=SHANGHAI)


def test_new_article_is_created_and_listed_in_its_issue(folder, cli):
    new_issue(cli, folder, "--year", "2025", "--number", "3", "--now", "2025-01-01T09:00")
    result = cli("-C", folder.root, "new", "article", "2025-03", "新标题", "--slug", "xin")
    assert result.exit_code == 0, result.output
    assert (folder.root / "issues" / "2025-03" / "xin.md").is_file()
    output = check(cli, folder).output
    assert "not listed" not in output and "0 warning(s)" in output
    [article] = load(folder.root).issues[0].articles
    assert (article.slug, article.title) == ("xin", "新标题")


def test_new_articles_are_listed_in_the_order_they_were_made(folder, cli):
    new_issue(cli, folder, "--year", "2025", "--number", "3", "--now", "2025-01-01T09:00")
    for slug in ("jia", "yi", "bing"):
        result = cli("-C", folder.root, "new", "article", "2025-03", f"标题{slug}", "--slug", slug)
        assert result.exit_code == 0, result.output
    assert "0 warning(s)" in check(cli, folder).output
    assert [a.slug for a in load(folder.root).issues[0].articles] == ["jia", "yi", "bing"]


def test_new_issue_without_number_takes_the_next_number_of_its_year(folder, cli):
    folder.issue("2024-07")
    folder.issue("2025-01")
    folder.issue("2025-02")
    new_issue(cli, folder, "--now", "2025-06-01T09:00")
    created = folder.root / "issues" / "2025-03" / "issue.yaml"
    assert created.is_file()
    assert "number: 3\n" in created.read_text(encoding="utf-8")
    assert not (folder.root / "issues" / "2024-08").exists()


def test_new_issue_refuses_an_existing_folder(folder, cli):
    folder.issue("2025-01")
    before = (folder.root / "issues" / "2025-01" / "issue.yaml").read_bytes()
    args = ("new", "issue", "--year", "2025", "--number", "1", "--now", "2025-01-01T09:00")
    result = cli("-C", folder.root, *args)
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert (folder.root / "issues" / "2025-01" / "issue.yaml").read_bytes() == before


@pytest.fixture
def machine_in_new_york(monkeypatch):
    """The local time zone of the machine, for code that (wrongly) depends on it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_new_issue_reads_a_naive_now_in_the_bulletins_zone(folder, cli, machine_in_new_york):
    new_issue(cli, folder, "--now", "2024-12-31T23:30")  # still 2024 in Shanghai
    assert (folder.root / "issues" / "2024-01" / "issue.yaml").is_file()
    [issue] = load(folder.root).issues
    assert issue.publish_at == datetime(2024, 12, 31, 9, 0, tzinfo=SHANGHAI)

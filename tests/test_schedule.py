"""`bulletin schedule` (states, times, the next one, warnings) and the content freeze that
`bulletin check` and `bulletin publish` enforce, with corrections (更正) as the way out."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from tests.publishing import configure, events, no_pdf, publish, records, row, schedule, site
from tests.test_load import assert_error, assert_warning

ISSUE = "issues/2024-01/issue.yaml"


def scheduled(folder, issue_id="2024-01", at="2024-03-01 09:00", **kw):
    return folder.issue(issue_id, status="scheduled", publish_at=at, **kw)


def with_zone(folder, zone: str = "Asia/Shanghai") -> None:
    configure(folder, f"timezone: {zone}\n")


# --- the table -----------------------------------------------------------------------------


def test_schedule_shows_each_state_with_local_and_utc_times(folder, cli):
    with_zone(folder)
    no_pdf(folder)
    folder.issue("2024-01", publish_at="2024-01-15 09:00")  # published below
    scheduled(folder, "2024-02", at="2024-02-15 09:00")  # due
    scheduled(folder, "2024-03", at="2024-03-15 09:00")  # scheduled
    folder.issue("2024-04", status="draft", publish_at="2024-04-15 09:00")
    folder.write(
        "issues/2024-03/second.md",
        "---\ntitle: 解禁文章\npublish_at: 2024-03-20 12:00\n---\n\n正文。\n",
    )
    publish(cli, folder, "2024-02-01T00:00")
    result = schedule(cli, folder, "2024-02-20T10:00")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "published" in row(out, "2024-01") and "since 2024-02-01 00:00" in row(out, "2024-01")
    assert "sha256:" in row(out, "2024-01")
    due = row(out, "2024-02")
    assert "2024-02-15 09:00 CST +08:00" in due and "2024-02-15 01:00 UTC" in due
    assert " due " in due and "first publication" in due
    assert " scheduled " in row(out, "2024-03")
    assert "2024-03-20 12:00 CST +08:00" in row(out, "2024-03/second")
    assert "embargo" in row(out, "2024-03/second")
    assert " draft " in row(out, "2024-04")
    assert "next: 2024-03-15 09:00 CST +08:00 (2024-03-15 01:00 UTC), in 23 d 23 h: 2024-03" in out
    text = assert_warning(result, "issues/2024-02/issue.yaml:4", "has not been published")
    assert "is `bulletin publish` running" in text


def test_schedule_in_a_daylight_saving_zone(folder, cli):
    with_zone(folder, "Europe/Berlin")
    scheduled(folder, "2024-03", at="2024-03-30 09:00")
    scheduled(folder, "2024-04", at="2024-03-31 09:00")
    out = schedule(cli, folder, "2024-03-01T00:00").output
    assert "2024-03-30 09:00 CET +01:00" in row(out, "2024-03") and "08:00 UTC" in row(
        out, "2024-03"
    )
    assert "2024-03-31 09:00 CEST +02:00" in row(out, "2024-04") and "07:00 UTC" in row(
        out, "2024-04"
    )


def test_a_failed_run_shows_as_failed_with_its_error(folder, cli):
    with_zone(folder)
    configure(folder, "deploy:\n  pdf: false\n  command: exit 3\n")
    scheduled(folder)
    publish(cli, folder, "2024-03-01T09:00")
    result = schedule(cli, folder, "2024-03-01T09:05")
    assert " failed " in row(result.output, "2024-01")
    assert "exited with status 3" in row(result.output, "2024-01")
    assert_warning(result, f"{ISSUE}:4", "publishing it failed", "exited with status 3")


# --- warnings ----------------------------------------------------------------------------------


def test_a_gap_in_the_numbering_is_a_warning(folder, cli):
    with_zone(folder)
    scheduled(folder, "2024-01", at="2024-03-01 09:00")
    scheduled(folder, "2024-04", at="2024-03-20 09:00")
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_warning(result, "issues/2024-04/issue.yaml:2", "no issue 2024 年第 2, 3 期")


def test_a_repeated_or_skipped_serial_is_a_warning(folder, cli):
    with_zone(folder)
    scheduled(folder, "2024-01", at="2024-03-01 09:00", extra="serial: 10\n")
    scheduled(folder, "2024-02", at="2024-03-08 09:00", extra="serial: 10\n")
    scheduled(folder, "2024-03", at="2024-03-15 09:00", extra="serial: 12\n")
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_warning(result, "issues/2024-02/issue.yaml:5", "both have serial 10")
    assert_warning(result, "issues/2024-03/issue.yaml:5", "goes from 10 (2024-02) to 12")


def test_a_repeated_issue_number_is_reported(folder, cli):
    with_zone(folder)
    scheduled(folder, "2024-01", at="2024-03-01 09:00")
    folder.issue("2024-1", status="scheduled", publish_at="2024-03-08 09:00")
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_error(result, "issues/2024-1/issue.yaml:2", "two issues are 2024 年第 1 期")
    assert "2024-01" in row(result.output, "2024-01")  # the table is still shown


def test_two_issues_at_the_same_moment_are_a_warning(folder, cli):
    with_zone(folder)
    scheduled(folder, "2024-01", at="2024-03-01 09:00")
    scheduled(folder, "2024-02", at="2024-03-01T01:00+00:00")  # the same moment
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_warning(
        result, "issues/2024-02/issue.yaml:4", "2024-01 and 2024-02 come out at the same time"
    )


def test_a_later_number_coming_out_first_is_a_warning(folder, cli):
    with_zone(folder)
    scheduled(folder, "2024-01", at="2024-03-08 09:00")
    scheduled(folder, "2024-02", at="2024-03-01 09:00")
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_warning(result, "issues/2024-02/issue.yaml:4", "comes out before 2024-01")


def test_a_time_without_zone_in_a_bulletin_without_zone_is_a_warning(folder, cli):
    scheduled(folder, "2024-01", at="2024-03-01 09:00")  # bulletin.yaml has no timezone
    scheduled(folder, "2024-02", at="2024-03-08T09:00+08:00")  # exact: no warning
    result = schedule(cli, folder, "2024-02-01T00:00")
    text = assert_warning(result, f"{ISSUE}:4", "has no UTC offset", "Asia/Shanghai")
    assert "timezone: Asia/Shanghai" in text and "2024-03-01T09:00+08:00" in text
    assert "issues/2024-02/issue.yaml:4: warning" not in result.output

    with_zone(folder)
    assert "has no UTC offset" not in schedule(cli, folder, "2024-02-01T00:00").output


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("2024-03-31 02:30", "does not exist in Europe/Berlin"),
        ("2024-10-27 02:30", "happens twice in Europe/Berlin"),
    ],
)
def test_a_local_time_that_daylight_saving_skips_or_repeats_is_a_warning(folder, cli, at, words):
    with_zone(folder, "Europe/Berlin")
    scheduled(folder, at=at)
    assert_warning(schedule(cli, folder, "2024-02-01T00:00"), f"{ISSUE}:4", words)


def test_status_published_for_an_issue_still_to_come_is_a_warning(folder, cli):
    with_zone(folder)
    folder.issue("2024-01", status="published", publish_at="2024-03-01 09:00")
    result = schedule(cli, folder, "2024-02-01T00:00")
    assert_warning(result, f"{ISSUE}:3", "`status: published` but comes out only at")


# --- the content freeze --------------------------------------------------------------------------


def published_issue(folder, cli, *, pdf: bool = False):
    with_zone(folder)
    if not pdf:
        no_pdf(folder)
    scheduled(folder)
    assert publish(cli, folder, "2024-03-01T09:00").exit_code == 0


def check(cli, folder, now="2024-03-02T09:00"):
    return cli("-C", folder.root, "check", "--now", now)


def test_an_edited_article_of_a_published_issue_is_reported_by_check_and_blocks_publish(
    folder, cli
):
    published_issue(folder, cli)
    folder.write("issues/2024-01/first.md", "---\ntitle: 第一篇文章\n---\n\n悄悄改过的正文。\n")
    text = assert_error(check(cli, folder), "issues/2024-01/first.md:1", "first.md changed")
    assert "out since 2024-03-01 09:00" in text and "publish-log.jsonl:2" in text
    assert "correction" in text and "更正" in text
    scheduled(folder, "2024-02", at="2024-03-02 09:00")
    blocked = publish(cli, folder, "2024-03-02T09:00")
    assert_error(blocked, "issues/2024-01/first.md:1", "first.md changed")
    assert "悄悄改过" not in (site(folder) / "issues/2024-01/first.html").read_text(
        encoding="utf-8"
    )
    assert events(folder) == ["started", "published"]  # nothing else happened


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda f: f.write(
                "issues/2024-01/issue.yaml",
                "year: 2024\nnumber: 1\nstatus: scheduled\npublish_at: 2024-03-01 09:00\neditor_note: 新增按语\narticles: [first, second]\n",
            ),
            "issue.yaml changed",
        ),
        (
            lambda f: (
                f.write("issues/2024-01/third.md", "---\ntitle: 三\n---\n\n三。\n")
                and f.write(
                    "issues/2024-01/issue.yaml",
                    "year: 2024\nnumber: 1\nstatus: scheduled\npublish_at: 2024-03-01 09:00\narticles: [first, second, third]\n",
                )
            ),
            "third.md added",
        ),
        (
            lambda f: f.write(
                "issues/2024-01/issue.yaml",
                "year: 2024\nnumber: 1\nstatus: scheduled\npublish_at: 2024-03-01 09:00\narticles: [first]\n",
            ),
            "second.md removed",
        ),
    ],
)
def test_every_kind_of_change_is_named(folder, cli, change, words):
    published_issue(folder, cli)
    change(folder)
    result = check(cli, folder)
    assert result.exit_code == 1
    assert words in result.output


def test_changes_that_readers_cannot_see_are_not_changes(folder, cli):
    published_issue(folder, cli)
    path = folder.root / "issues/2024-01/first.md"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))  # BOM, CRLF
    issue = folder.root / ISSUE
    issue.write_text(
        "# 第 1 期\n" + issue.read_text(encoding="utf-8").replace("scheduled", "published"),
        encoding="utf-8",
    )
    assert check(cli, folder).exit_code == 0


def test_moving_publish_at_of_a_published_issue_later_is_reported(folder, cli):
    published_issue(folder, cli)
    scheduled(folder, at="2024-03-05 09:00")
    assert_error(check(cli, folder), f"{ISSUE}:4", "its publish_at now lies after that")


@pytest.mark.pdf
def test_a_correction_lets_the_change_out_and_the_site_and_pdf_show_it(folder, cli):
    published_issue(folder, cli, pdf=True)
    folder.write("issues/2024-01/first.md", "---\ntitle: 第一篇文章\n---\n\n改正后的正文。\n")
    issue = folder.root / ISSUE
    issue.write_text(
        issue.read_text(encoding="utf-8")
        + "corrections:\n  - date: 2024-03-02\n    article: first\n"
        + "    text: 原文“增长 5%”应为“增长 15%”。\n",
        encoding="utf-8",
    )
    assert check(cli, folder).exit_code == 0
    out = schedule(cli, folder, "2024-03-02T09:00").output
    assert " due " in row(out, "2024-01") and "correction" in row(out, "2024-01")

    result = publish(cli, folder, "2024-03-02T09:00")
    assert "published 2024-01 (2024 年第 1 期): correction" in result.output
    last = records(folder, "published")[-1]
    assert (last["reason"], last["corrections"]) == ("correction", 1)
    page = (site(folder) / "issues/2024-01/index.html").read_text(encoding="utf-8")
    assert "更正" in page and "原文“增长 5%”应为“增长 15%”。" in page
    assert '<a href="first.html">第一篇文章</a>' in page
    article = (site(folder) / "issues/2024-01/first.html").read_text(encoding="utf-8")
    assert "改正后的正文" in article and "增长 15%" in article
    first_page = PdfReader(site(folder) / "issues/2024-01/2024-01.pdf").pages[0].extract_text()
    assert "更正" in first_page and "《第一篇文章》" in first_page
    assert check(cli, folder, "2024-03-03T09:00").exit_code == 0
    assert publish(cli, folder, "2024-03-02T09:01").output == ""

    folder.write("issues/2024-01/first.md", "---\ntitle: 第一篇文章\n---\n\n又改了。\n")
    assert check(cli, folder, "2024-03-03T09:00").exit_code == 1  # the next change needs another


def test_a_correction_cannot_be_taken_back(folder, cli):
    published_issue(folder, cli)
    issue = folder.root / ISSUE
    original = issue.read_text(encoding="utf-8")
    issue.write_text(original + "corrections:\n  - date: 2024-03-02\n    text: 更正。\n")
    publish(cli, folder, "2024-03-02T09:00")
    issue.write_text(original)
    assert_error(
        check(cli, folder, "2024-03-03T09:00"), ISSUE, "was published with 1 correction(s)"
    )


def test_a_correction_naming_an_unknown_article_is_an_error(folder, cli):
    with_zone(folder)
    folder.issue(extra="corrections:\n  - date: 2024-03-02\n    article: thrid\n    text: 更正。\n")
    assert_error(check(cli, folder), f"{ISSUE}:7", "names article 'thrid'", "first, second")


def test_a_correction_without_text_is_an_error(folder, cli):
    with_zone(folder)
    folder.issue(extra="corrections:\n  - date: 2024-03-02\n")
    assert_error(check(cli, folder), f"{ISSUE}:6", "`text`")

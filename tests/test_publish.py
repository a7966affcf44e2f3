"""`bulletin publish`: due issues go out at their minute, once; the deployed site, the
feed and the publish log say so; failures and crashes leave everything consistent and
the next run finishes the work. The clock is always --now: no test sleeps."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import feedparser
import pytest

from tests.publishing import (
    BULLETIN,
    LOG,
    configure,
    environment,
    events,
    issue_pages,
    no_pdf,
    publish,
    records,
    schedule,
    site,
)

ISSUE = "issues/2024-01/issue.yaml"


def scheduled(folder, issue_id="2024-01", at="2024-03-01 09:00", **kw):
    return folder.issue(issue_id, status="scheduled", publish_at=at, **kw)


# --- the minute it is due, and only once --------------------------------------------------


def test_issue_due_at_nine_is_not_out_at_0859_is_at_0900_and_not_again_at_0901(folder, cli):
    no_pdf(folder)
    folder.issue("2024-01", publish_at="2024-01-15 09:00")
    scheduled(folder, "2024-02", at="2024-03-01 09:00")
    publish(cli, folder, "2024-02-01T00:00")  # issue 1 is out already
    before = records(folder)

    early = publish(cli, folder, "2024-03-01T08:59")
    assert early.exit_code == 0 and early.output == ""  # quiet for cron
    assert records(folder) == before
    assert issue_pages(site(folder)) == ["2024-01"]

    due = publish(cli, folder, "2024-03-01T09:00")
    assert due.exit_code == 0, due.output
    assert "published 2024-02 (2024 年第 2 期): first publication" in due.output
    assert issue_pages(site(folder)) == ["2024-01", "2024-02"]
    index = (site(folder) / "index.html").read_text(encoding="utf-8")
    assert "2024 年第 2 期" in index
    feed = feedparser.parse((site(folder) / "feed.xml").read_text(encoding="utf-8"))
    assert {"第一篇文章", "第二篇文章"} <= {e.title for e in feed.entries}
    assert any(e.published.startswith("2024-03-01T09:00:00+08:00") for e in feed.entries)
    started, published = records(folder)[len(before) :]
    assert (started["event"], published["event"]) == ("started", "published")
    assert published["time"] == "2024-03-01T01:00:00Z"
    assert published["issue"] == "2024-02" and published["hash"].startswith("sha256:")
    assert published["deploy"] == f"folder {site(folder)}"
    assert set(published["parts"]) == {"issue.yaml", "first.md", "second.md"}
    live = os.readlink(site(folder))

    again = publish(cli, folder, "2024-03-01T09:01")
    assert again.exit_code == 0 and again.output == ""
    assert events(folder, "2024-02") == ["started", "published"]
    assert os.readlink(site(folder)) == live  # not even redeployed


def test_verbose_run_says_nothing_is_due_and_when_the_next_issue_comes(folder, cli):
    no_pdf(folder)
    scheduled(folder, at="2024-03-01 09:00")
    result = publish(cli, folder, "2024-03-01T07:30", "-v")
    assert result.exit_code == 0
    assert "nothing due" in result.output
    assert (
        "next: 2024-03-01 09:00 CST +08:00 (2024-03-01 01:00 UTC), in 1 h 30 min" in result.output
    )


def test_a_utc_clock_and_a_publish_time_with_an_offset_meet_exactly(folder, cli):
    no_pdf(folder)
    scheduled(folder, at="2024-03-01T09:00+05:30")  # 03:30 UTC
    assert publish(cli, folder, "2024-03-01T03:29:59Z").output == ""
    assert "published 2024-01" in publish(cli, folder, "2024-03-01T03:30:00Z").output
    assert records(folder, "published")[0]["time"] == "2024-03-01T03:30:00Z"


@pytest.mark.parametrize(
    ("local", "before_utc", "at_utc"),
    [
        ("2024-03-30 09:00", "2024-03-30T07:59Z", "2024-03-30T08:00Z"),  # CET, +01:00
        ("2024-03-31 09:00", "2024-03-31T06:59Z", "2024-03-31T07:00Z"),  # CEST, the first day
        ("2024-10-27 09:00", "2024-10-27T07:59Z", "2024-10-27T08:00Z"),  # CET again
    ],
)
def test_daylight_saving_time_moves_the_utc_moment(folder, cli, local, before_utc, at_utc):
    configure(folder, "timezone: Europe/Berlin\n")
    no_pdf(folder)
    scheduled(folder, at=local)
    assert publish(cli, folder, before_utc).output == ""
    assert "published 2024-01" in publish(cli, folder, at_utc).output
    assert records(folder, "published")[0]["time"] == at_utc.replace("Z", ":00Z")


def test_a_naive_now_is_read_in_the_bulletins_zone(folder, cli):
    configure(folder, "timezone: America/New_York\n")
    no_pdf(folder)
    scheduled(folder, at="2024-07-04 09:00")  # EDT: 13:00 UTC
    assert publish(cli, folder, "2024-07-04T08:59").output == ""
    assert "published" in publish(cli, folder, "2024-07-04T09:00").output
    assert records(folder, "published")[0]["time"] == "2024-07-04T13:00:00Z"


def test_a_clock_behind_the_log_is_refused(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    publish(cli, folder, "2024-03-01T09:00")
    result = publish(cli, folder, "2024-03-01T08:00")
    assert result.exit_code == 1
    assert "earlier than the last record of the publish log" in result.output
    assert f"{LOG}:2" in result.output
    assert issue_pages(site(folder)) == ["2024-01"]


def test_drafts_are_never_published(folder, cli):
    no_pdf(folder)
    folder.issue("2024-01", status="draft", publish_at="2024-01-01 09:00")
    assert publish(cli, folder, "2024-06-01T00:00").output == ""
    assert not site(folder).exists() and records(folder) == []


# --- article embargo ------------------------------------------------------------------------


def embargoed(folder, at: str = "2024-03-02 12:00") -> None:
    folder.write(
        "issues/2024-01/second.md",
        f"---\ntitle: 第二篇文章\npublish_at: {at}\n---\n\n第二篇的正文。\n",
    )


def test_an_embargoed_article_is_held_back_inside_an_issue_that_is_out(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    embargoed(folder)
    publish(cli, folder, "2024-03-01T09:00")
    out = site(folder)
    assert (out / "issues/2024-01/first.html").is_file()
    assert not (out / "issues/2024-01/second.html").exists()
    assert "第二篇文章" not in (out / "issues/2024-01/index.html").read_text(encoding="utf-8")
    assert "第二篇文章" not in (out / "feed.xml").read_text(encoding="utf-8")
    search = "".join(p.read_text(encoding="utf-8") for p in (out / "assets").rglob("*.js"))
    assert "第一篇文章" in search and "第二篇文章" not in search

    assert publish(cli, folder, "2024-03-02T11:59").output == ""
    released = publish(cli, folder, "2024-03-02T12:00")
    assert "published 2024-01 (2024 年第 1 期): embargoed article released" in released.output
    assert (out / "issues/2024-01/second.html").is_file()
    feed = feedparser.parse((out / "feed.xml").read_text(encoding="utf-8"))
    [entry] = [e for e in feed.entries if e.title == "第二篇文章"]
    assert entry.updated.startswith("2024-03-02T12:00:00+08:00")  # new when released
    assert events(folder) == ["started", "published", "started", "published"]
    assert records(folder, "published")[-1]["reason"] == "release"
    assert publish(cli, folder, "2024-03-02T12:01").output == ""


def test_editing_an_embargoed_article_before_its_release_is_not_a_change(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    embargoed(folder)
    publish(cli, folder, "2024-03-01T09:00")
    embargoed(folder)  # same time, new text below
    folder.write(
        "issues/2024-01/second.md",
        "---\ntitle: 第二篇文章\npublish_at: 2024-03-02 12:00\n---\n\n改好的正文。\n",
    )
    check = cli("-C", folder.root, "check", "--now", "2024-03-01T10:00")
    assert check.exit_code == 0, check.output
    publish(cli, folder, "2024-03-02T12:00")
    page = (site(folder) / "issues/2024-01/second.html").read_text(encoding="utf-8")
    assert "改好的正文" in page


# --- withdrawing ------------------------------------------------------------------------------


def test_a_published_issue_made_a_draft_again_is_taken_down_and_logged(folder, cli):
    no_pdf(folder)
    folder.issue("2024-01", publish_at="2024-01-15 09:00")
    scheduled(folder, "2024-02", at="2024-02-15 09:00")
    publish(cli, folder, "2024-02-15T09:00")
    folder.issue("2024-02", status="draft", publish_at="2024-02-15 09:00")
    result = publish(cli, folder, "2024-02-16T09:00")
    assert "withdrew 2024-02 from the site" in result.output
    assert issue_pages(site(folder)) == ["2024-01"]
    assert events(folder, "2024-02")[-1] == "withdrawn"
    assert publish(cli, folder, "2024-02-16T09:01").output == ""


# --- failures and crashes ----------------------------------------------------------------------


def command_deploy(folder, script: str) -> Path:
    """Deploy with a shell command; `www/` in the bulletin folder plays the web server."""
    configure(folder, f"deploy:\n  pdf: false\n  command: {script}\n")
    return folder.root / "www"


COPY = 'mkdir -p "$BULLETIN_ROOT/www" && cp -R site/. "$BULLETIN_ROOT/www/"'


def test_a_failing_deploy_command_leaves_it_unpublished_and_the_next_run_publishes(folder, cli):
    www = command_deploy(folder, f"'test -f \"$BULLETIN_ROOT/network-up\" && {COPY}'")
    scheduled(folder)
    failed = publish(cli, folder, "2024-03-01T09:00")
    assert failed.exit_code == 1
    assert "NOT published: 2024-01" in failed.output
    assert "exited with status 1" in failed.output
    assert not www.exists()
    [failure] = records(folder, "failed")
    assert "exited with status 1" in failure["error"]
    assert "failed" in schedule(cli, folder, "2024-03-01T09:00:30").output

    (folder.root / "network-up").touch()
    retried = publish(cli, folder, "2024-03-01T09:01")
    assert retried.exit_code == 0, retried.output
    assert "published 2024-01" in retried.output
    assert issue_pages(www) == ["2024-01"]
    assert events(folder) == ["started", "failed", "started", "published"]
    assert publish(cli, folder, "2024-03-01T09:02").output == ""


def test_the_deploy_command_runs_beside_site_with_its_output_in_the_error(folder, cli):
    command_deploy(folder, "'ls site/index.html && echo rsync: connection refused >&2; exit 23'")
    scheduled(folder)
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 1
    assert "exited with status 23: site/index.html | rsync: connection refused" in result.output


def test_a_deploy_command_that_hangs_is_stopped_after_its_timeout(folder, cli):
    configure(folder, "deploy:\n  pdf: false\n  command: exec tail -f /dev/null\n  timeout: 0.5\n")
    scheduled(folder)
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 1
    assert "did not finish in 0.5 s and was stopped" in result.output
    assert events(folder) == ["started", "failed"]


def run_bulletin(folder, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """`bulletin ARGS` as a real process; `code` runs first in it (to inject a crash)."""
    if code is None:
        argv = [BULLETIN, "-C", str(folder.root), *args]
    else:
        script = f"{code}\nfrom bulletin.cli import main\nmain(['-C', {str(folder.root)!r}, *{list(args)!r}])"
        argv = [sys.executable, "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, env=environment(), timeout=120)


def test_a_publisher_killed_during_the_deploy_leaves_a_log_that_says_so_and_is_retried(folder, cli):
    command_deploy(folder, "'kill -KILL $PPID'")  # SIGKILL: no handler, no cleanup runs
    scheduled(folder)
    killed = run_bulletin(folder, "publish", "--now", "2024-03-01T09:00")
    assert killed.returncode == -9
    assert events(folder) == ["started"]
    state = schedule(cli, folder, "2024-03-01T09:00:30")
    assert "the run stopped before it finished" in state.output
    assert "publishing it failed" in state.output

    config = folder.root / "bulletin.yaml"
    config.write_text(config.read_text().replace("'kill -KILL $PPID'", f"'{COPY}'"))
    retried = publish(cli, folder, "2024-03-01T09:01")  # the kernel dropped the lock
    assert retried.exit_code == 0, retried.output
    assert issue_pages(folder.root / "www") == ["2024-01"]
    assert events(folder) == ["started", "started", "published"]


CRASH_BEFORE_SWAP = """
import os
from bulletin.publish import deploy
def crash(self, site):
    os._exit(9)
deploy.FolderTarget.deploy = crash
"""

CRASH_AFTER_SWAP = """
import os
from bulletin.publish import deploy
real = deploy.FolderTarget.deploy
def crash(self, site):
    real(self, site)
    os._exit(9)
deploy.FolderTarget.deploy = crash
"""


@pytest.mark.parametrize(("crash", "shown"), [(CRASH_BEFORE_SWAP, False), (CRASH_AFTER_SWAP, True)])
def test_a_crash_around_the_folder_swap_leaves_a_whole_site_and_an_honest_log(
    folder, cli, crash, shown
):
    no_pdf(folder)
    folder.issue("2024-01", publish_at="2024-01-15 09:00")
    scheduled(folder, "2024-02", at="2024-03-01 09:00")
    publish(cli, folder, "2024-02-01T00:00")
    out = site(folder)
    old_index = (out / "index.html").read_text(encoding="utf-8")

    crashed = run_bulletin(folder, "publish", "--now", "2024-03-01T09:00", code=crash)
    assert crashed.returncode == 9
    # the site is one whole release, the old or the new one, never a mix
    assert issue_pages(out) == (["2024-01", "2024-02"] if shown else ["2024-01"])
    if not shown:
        assert (out / "index.html").read_text(encoding="utf-8") == old_index
    assert (out / ".bulletin-site").is_file()
    assert events(folder, "2024-02") == ["started"]  # and the log says it is not done

    retried = publish(cli, folder, "2024-03-01T09:01")
    assert retried.exit_code == 0, retried.output
    assert issue_pages(out) == ["2024-01", "2024-02"]
    assert events(folder, "2024-02") == ["started", "started", "published"]
    releases = out.parent / ".public.releases"
    leftovers = [p.name for p in releases.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # staging folders and links of the crashed run are gone


def test_the_folder_keeps_the_last_releases_for_a_rollback(folder, cli):
    configure(folder, "deploy:\n  pdf: false\n  keep: 2\n")
    for n in range(1, 5):
        scheduled(folder, f"2024-0{n}", at=f"2024-0{n}-01 09:00")
    for n in range(1, 5):
        publish(cli, folder, f"2024-0{n}-01T09:00")
    releases = sorted((folder.root / ".public.releases").iterdir())
    assert len(releases) == 2
    assert (folder.root / "public").resolve() == releases[-1]
    assert issue_pages(releases[0]) == ["2024-01", "2024-02", "2024-03"]


def test_a_folder_not_made_by_bulletin_is_never_replaced(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    folder.write("public/notes.txt", "mine")
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 1
    assert "refusing to replace" in result.output
    assert (folder.root / "public/notes.txt").read_text() == "mine"
    assert events(folder) == ["started", "failed"]


def test_a_site_built_by_bulletin_build_is_taken_over(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    cli("-C", folder.root, "build", "--no-pdf", "-o", folder.root / "public", "--now", "2024-02-01")
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 0, result.output
    assert (folder.root / "public").is_symlink()
    assert issue_pages(folder.root / "public") == ["2024-01"]


# --- two runs at once ---------------------------------------------------------------------------


def unblock(reached: Path, go: Path) -> None:
    """After a failure, let deploy commands still waiting on the FIFOs end."""
    for path, flags in ((go, os.O_WRONLY), (reached, os.O_RDONLY)):
        try:
            descriptor = os.open(path, flags | os.O_NONBLOCK)
        except OSError:  # nobody is waiting on it
            continue
        try:
            if flags == os.O_WRONLY:
                os.write(descriptor, b"go\n")
            else:
                os.read(descriptor, 64)
        except OSError:
            pass
        finally:
            os.close(descriptor)


def test_two_concurrent_runs_publish_once(folder, cli):
    """Run A blocks inside its deploy (on a FIFO, not a timer); run B starts meanwhile."""
    reached, go = folder.root / "reached.fifo", folder.root / "go.fifo"
    os.mkfifo(reached)
    os.mkfifo(go)
    command_deploy(
        folder,
        '\'echo in > "$BULLETIN_ROOT/reached.fifo"; cat "$BULLETIN_ROOT/go.fifo" >/dev/null; '
        f'{COPY} && echo deployed >> "$BULLETIN_ROOT/deploys"\'',
    )
    scheduled(folder)
    first = subprocess.Popen(
        [BULLETIN, "-C", str(folder.root), "publish", "--now", "2024-03-01T09:00"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(),
    )
    try:
        inside = threading.Thread(target=lambda: reached.read_text())
        inside.start()
        inside.join(timeout=60)
        assert not inside.is_alive(), "the first run never reached its deploy"

        second = subprocess.run(  # a second process, while the first is mid-deploy
            [BULLETIN, "-C", str(folder.root), "publish", "--now", "2024-03-01T09:00", "-v"],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=30,  # without the lock it would block in the deploy: fail, not hang
        )
        assert second.returncode == 0, second.stderr
        assert f"(pid {first.pid}) is at work; nothing done" in second.stdout
        assert "publishing" in schedule(cli, folder, "2024-03-01T09:00").output

        release = threading.Thread(target=lambda: go.write_text("go\n"))
        release.start()
        release.join(timeout=60)
        assert first.wait(timeout=60) == 0, first.stdout.read() if first.stdout else ""
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        unblock(reached, go)
    assert (folder.root / "deploys").read_text() == "deployed\n"
    assert events(folder) == ["started", "published"]
    assert publish(cli, folder, "2024-03-01T09:01").output == ""


# --- the log file ---------------------------------------------------------------------------------


def test_a_torn_last_line_of_the_log_is_ignored_and_the_log_goes_on(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    scheduled(folder, "2024-02", at="2024-03-02 09:00")
    publish(cli, folder, "2024-03-01T09:00")
    with open(folder.root / LOG, "a", encoding="utf-8") as log:
        log.write('{"time": "2024-03-02T01:00:00Z", "issue": "2024-02", "ev')
    result = publish(cli, folder, "2024-03-02T09:00")
    assert result.exit_code == 0, result.output
    assert f"{LOG}:3: warning: the last line of the publish log is incomplete" in result.output
    assert events(folder) == ["started", "published", "started", "published"]  # torn one cut
    again = publish(cli, folder, "2024-03-02T09:01")
    assert again.exit_code == 0 and again.output == ""


def test_a_merge_conflict_in_the_log_is_an_error_with_its_line(folder, cli):
    no_pdf(folder)
    scheduled(folder)
    publish(cli, folder, "2024-03-01T09:00")
    path = folder.root / LOG
    path.write_text("<<<<<<< HEAD\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    for command in ("publish", "check"):
        result = cli("-C", folder.root, command, "--now", "2024-03-02T09:00")
        assert result.exit_code == 1
        assert f"{LOG}:1: error: publish log line is not a JSON object" in result.output
        assert "resolve the merge conflict" in result.output


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "line", "words"),
    [
        ("deploy:\n  folder: www\n  command: rsync -a site/ web:/srv/\n", 8, "both `folder:`"),
        ("deploy:\n  timeout: soon\n", 7, "`timeout`"),
        ("deploy: rsync\n", 6, "mapping"),
        (
            "mail:\n  host: smtp.example.org\n  from: 简报 <a@example.org>\n  password: x\n",
            9,
            "must not hold the password",
        ),
        ("mail:\n  host: smtp.example.org\n  from: not an address\n", 8, "not an e-mail address"),
        (
            "mail:\n  host: smtp.example.org\n  from: a@example.org\n",
            6,
            "recipients.txt does not exist",
        ),
    ],
)
def test_bad_publish_settings_name_their_line(folder, cli, settings, line, words):
    configure(folder, settings)
    scheduled(folder)
    for command in ("check", "publish"):
        result = cli("-C", folder.root, command, "--now", "2024-03-01T09:00")
        assert result.exit_code == 1, result.output
        assert f"bulletin.yaml:{line}: error:" in result.output
        assert words in result.output
        assert "hint:" in result.output
    assert records(folder) == []


def test_a_bad_recipient_line_is_an_error_before_anything_is_published(folder, cli):
    configure(folder, "mail:\n  host: 127.0.0.1\n  from: a@example.org\n")
    folder.write("recipients.txt", "# 收件人\nok@example.org\n\nnot-an-address\n")
    scheduled(folder)
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 1
    assert "recipients.txt:4: error: recipient is not an e-mail address" in result.output
    assert records(folder) == [] and not site(folder).exists()


def test_publish_takes_the_bulletin_folder_after_the_command_too(folder, cli, tmp_path):
    no_pdf(folder)
    scheduled(folder)
    result = cli("publish", "--now", "2024-03-01T09:00", "-C", folder.root)
    assert result.exit_code == 0, result.output
    assert issue_pages(site(folder)) == ["2024-01"]

"""`bulletin publish --watch`: driven by a fake clock (its waits advance the time, nobody
sleeps), then once as a real process that a file change wakes and SIGTERM ends."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bulletin.publish.watch import MAX_SLEEP, watch
from tests.publishing import BULLETIN, configure, environment, events, issue_pages, records, site

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeTime:
    """A clock that moves only when the loop waits; `then` runs after a given wait."""

    def __init__(self, start: datetime, stop_after: int, then=None) -> None:
        self.now = start
        self.waits: list[float] = []
        self.stop = threading.Event()
        self.stop_after = stop_after
        self.then = then or {}
        self.said: list[str] = []

    def clock(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)
        action = self.then.get(len(self.waits))
        if action:
            action(self)
        if len(self.waits) >= self.stop_after:
            self.stop.set()

    def run(self, root) -> None:
        watch(root, clock=self.clock, wait=self.wait, stop=self.stop, say=self.said.append)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_watch_sleeps_until_the_publish_time_and_publishes_then(folder):
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:00")
    folder.issue("2024-02", status="scheduled", publish_at="2024-03-01 09:30")
    fake = FakeTime(at("2024-03-01T08:58"), stop_after=3)
    fake.run(folder.root)
    # 2 min to 09:00; then 30 min to 09:30, looked at every MAX_SLEEP seconds
    assert MAX_SLEEP == 300
    assert fake.waits == [120.0, 300.0, 300.0]
    [published] = records(folder, "published")
    assert (published["issue"], published["time"]) == ("2024-01", "2024-03-01T01:00:00Z")
    said = "\n".join(fake.said)
    assert "sleeping 120 s until next publish time 2024-03-01 09:00 CST +08:00" in said
    assert "published 2024-01 (2024 年第 1 期): first publication" in said
    assert fake.said[-1] == "stopped"


def test_watch_publishes_each_issue_at_its_own_time(folder):
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:00")
    folder.issue("2024-02", status="scheduled", publish_at="2024-03-01 09:04")
    fake = FakeTime(at("2024-03-01T09:00"), stop_after=2)
    fake.run(folder.root)
    assert fake.waits[0] == 240.0
    times = [(r["issue"], r["time"]) for r in records(folder, "published")]
    assert times == [("2024-01", "2024-03-01T01:00:00Z"), ("2024-02", "2024-03-01T01:04:00Z")]
    assert issue_pages(site(folder)) == ["2024-01", "2024-02"]


def test_watch_rereads_the_schedule_after_a_change(folder):
    """A wake-up (a file changed) after 60 s: the next sleep follows the new time."""
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 12:00")

    def moved(fake: FakeTime) -> None:
        fake.now -= timedelta(seconds=fake.waits[-1] - 60)  # woken early, after 60 s
        folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:03")

    fake = FakeTime(at("2024-03-01T09:00"), stop_after=3, then={1: moved})
    fake.run(folder.root)
    assert fake.waits == [MAX_SLEEP, 120.0, MAX_SLEEP]  # 09:01 -> 09:03, the new time
    assert records(folder, "published")[0]["time"] == "2024-03-01T01:03:00Z"


def test_a_failing_deploy_is_retried_with_back_off_until_it_works(folder):
    flag = folder.root / "network-up"
    configure(
        folder,
        "deploy:\n  pdf: false\n"
        '  command: \'test -f "$BULLETIN_ROOT/network-up" && mkdir -p "$BULLETIN_ROOT/www" '
        '&& cp -R site/. "$BULLETIN_ROOT/www/"\'\n',
    )
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:00")
    fake = FakeTime(at("2024-03-01T09:00"), stop_after=4, then={3: lambda _: flag.touch()})
    fake.run(folder.root)
    assert fake.waits[:3] == [30.0, 60.0, 120.0]
    assert events(folder) == ["started", "failed"] * 3 + ["started", "published"]
    assert records(folder, "published")[0]["time"] == "2024-03-01T01:03:30Z"
    assert issue_pages(folder.root / "www") == ["2024-01"]
    said = "\n".join(fake.said)
    assert "retry 1 in 30 s" in said and "retry 3 in 120 s" in said


def test_bad_files_are_reported_and_retried_not_fatal(folder):
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:00")
    folder.write("issues/2024-01/first.md", "no front matter\n")

    def fixed(_fake) -> None:
        folder.write("issues/2024-01/first.md", "---\ntitle: 修好了\n---\n\n正文。\n")

    fake = FakeTime(at("2024-03-01T09:00"), stop_after=2, then={1: fixed})
    fake.run(folder.root)
    said = "\n".join(fake.said)
    assert "cannot publish" in said and "first.md:1: error: article has no front matter" in said
    assert fake.waits[0] == 30.0
    assert records(folder, "published")[0]["time"] == "2024-03-01T01:00:30Z"


# --- a real process ---------------------------------------------------------------------


def lines_of(process: subprocess.Popen) -> queue.Queue:
    found: queue.Queue = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return found


def wait_for(found: queue.Queue, words: str, timeout: float = 60) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no line with {words!r} in:\n" + "\n".join(seen)
        try:
            line = found.get(timeout=left)
        except queue.Empty:
            continue
        seen.append(line)
        if words in line:
            return seen


def test_watch_as_a_process_wakes_on_a_file_change_and_stops_on_sigterm(folder):
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 12:00")
    process = subprocess.Popen(
        [BULLETIN, "-C", str(folder.root), "publish", "--watch", "--now", "2024-03-01T09:00"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(),  # no PYTHONUNBUFFERED: lines must be flushed, as for journald
    )
    try:
        found = lines_of(process)
        wait_for(found, f"sleeping {MAX_SLEEP:g} s")
        # the editor moves the issue to now: the watcher wakes up, not 5 minutes later
        folder.issue("2024-01", status="scheduled", publish_at="2024-03-01 09:00")
        wait_for(found, "published 2024-01")
        wait_for(found, "sleeping")
        assert issue_pages(site(folder)) == ["2024-01"]

        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - sent < 1.0
        assert "stopped" in wait_for(found, "stopped", timeout=5)[-1]
    finally:
        if process.poll() is None:
            process.kill()
    assert events(folder) == ["started", "published"]

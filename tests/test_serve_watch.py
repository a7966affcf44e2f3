"""Watching the sources: what counts as a change, and one rebuild per burst of saves."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from bulletin.errors import Problem
from bulletin.serve.rebuild import Preview
from bulletin.serve.watcher import Debouncer, Sources, Watcher, is_junk
from tests.serving import WAIT, FakeSite, atomic_write, eventually


@pytest.mark.parametrize(
    "name",
    [
        ".first.md.swp",
        ".first.md.swx",
        "first.md~",
        "4913",
        "#first.md#",
        ".#first.md",
        "first.md.tmp",
        "first.md___jb_tmp___",
        "first.md___jb_old___",
        "first.md.crswap",
        ".DS_Store",
        "first.md.kate-swp",
        ".git/index",
    ],
)
def test_editors_scratch_files_are_junk(name):
    assert is_junk(Path("issues/2024-01") / name)


@pytest.mark.parametrize("name", ["first.md", "issue.yaml", "images/photo.jpg", "css/site.css"])
def test_sources_are_not_junk(name):
    assert not is_junk(Path("issues/2024-01") / name)


def test_only_what_a_build_reads_is_relevant(tmp_path):
    root = tmp_path / "bulletin"
    builtin = tmp_path / "installed" / "themes"
    preview = root / "issues" / ".preview"  # even a preview folder inside the sources
    sources = Sources(root, extra=[builtin], ignore=[preview])
    relevant = [
        root / "bulletin.yaml",
        root / "issues",
        root / "issues/2024-01/first.md",
        root / "issues/2024-01/issue.yaml",
        root / "issues/2024-01/images/photo.jpg",
        root / "themes/default/templates/base.html",
        builtin / "default/static/css/site.css",
    ]
    ignored = [
        root / "README.md",
        root / "site/index.html",
        root / ".bulletin-cache/pdf/x.pdf",
        root / ".bulletin.yaml.swp",
        root / "issues/2024-01/.first.md.swp",
        root / "issues/2024-01/first.md~",
        preview / "site/index.html",
        tmp_path / "elsewhere/first.md",
    ]
    assert [p for p in relevant if not sources.relevant(p)] == []
    assert [p for p in ignored if sources.relevant(p)] == []


def test_debounce_waits_for_quiet_but_not_forever():
    now = [0.0]
    debouncer = Debouncer(lambda changes: None, quiet=0.05, longest=1.0, clock=lambda: now[0])
    assert debouncer.due_in(0.0) is None
    debouncer.add([Path("a")])
    assert debouncer.due_in(0.0) == pytest.approx(0.05)
    now[0] = 0.04
    debouncer.add([Path("b")])  # another save within the quiet time: wait again
    assert debouncer.due_in(0.04) == pytest.approx(0.05)
    assert debouncer.take() is None
    for step in range(1, 25):  # a save every 40 ms: the burst is handed over at 1 s
        now[0] = 0.04 * step
        debouncer.add([Path(f"c{step}")])
    assert debouncer.due_in(now[0]) == pytest.approx(1.0 - now[0])
    now[0] = 1.0
    burst = debouncer.take()
    assert burst is not None and {Path("a"), Path("b")} <= burst and len(burst) == 26
    assert debouncer.due_in(now[0]) is None


@pytest.fixture(params=["events", "poll"])
def watched(request, folder):
    """A bulletin folder watched for real, with every burst recorded."""
    folder.issue("2024-01", articles={"first": "第一篇", "second": "第二篇"})
    bursts: list[frozenset[Path]] = []
    arrived = threading.Condition()

    def record(changes):
        with arrived:
            bursts.append(changes)
            arrived.notify_all()

    poll = request.param == "poll"
    sources = Sources(folder.root)
    # a long quiet time: a burst written by this test must never be split by a slow machine
    watcher = Watcher(sources, record, poll=poll, poll_interval=0.1, quiet=0.5, longest=10)
    watcher.start()
    yield folder, bursts
    watcher.stop()


def next_burst(bursts: list, index: int) -> frozenset[Path]:
    return eventually(lambda: len(bursts) > index and bursts[index], what=f"burst {index}")


def test_an_atomic_save_is_one_change_of_the_file(watched):
    folder, bursts = watched
    article = folder.root / "issues/2024-01/first.md"
    atomic_write(article, article.read_text() + "\n新的一段。\n")
    assert next_burst(bursts, 0) == {article.resolve()}


def test_a_burst_of_saves_is_one_rebuild_and_scratch_files_are_not_in_it(watched):
    folder, bursts = watched
    issue = folder.root / "issues/2024-01"
    for n in range(20):  # a formatter over many files, with an editor's scratch files
        folder.write(f"issues/2024-01/extra-{n}.md", f"---\ntitle: 第{n}篇\n---\n正文\n")
        (issue / f".extra-{n}.md.swp").write_text("swap")
        (issue / f"extra-{n}.md~").write_text("backup")
        (issue / "4913").write_text("")
        (issue / "4913").unlink()
    atomic_write(issue / "first.md", "---\ntitle: 改\n---\n正文\n")
    burst = next_burst(bursts, 0)
    expected = {(issue / f"extra-{n}.md").resolve() for n in range(20)}
    assert expected | {(issue / "first.md").resolve()} == burst
    # nothing else was pending: the next change is a burst of its own
    folder.write("bulletin.yaml", (folder.root / "bulletin.yaml").read_text() + "\n")
    assert next_burst(bursts, 1) == {(folder.root / "bulletin.yaml").resolve()}


def test_created_deleted_and_renamed_files_are_changes(watched):
    folder, bursts = watched
    issue = (folder.root / "issues/2024-01").resolve()
    (issue / "second.md").rename(issue / "renamed.md")
    assert next_burst(bursts, 0) == {issue / "second.md", issue / "renamed.md"}
    (issue / "renamed.md").unlink()
    assert next_burst(bursts, 1) == {issue / "renamed.md"}
    folder.write("issues/2024-02/issue.yaml", "year: 2024\n")
    assert issue.parent / "2024-02/issue.yaml" in next_burst(bursts, 2)
    shutil.rmtree(issue.parent / "2024-02")
    assert issue.parent / "2024-02/issue.yaml" in next_burst(bursts, 3)


@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")  # watchdog's, harmless
def test_a_themes_folder_made_after_the_start_is_watched(watched):
    folder, bursts = watched
    css = folder.root / "themes/default/static/css/site.css"
    css.parent.mkdir(parents=True)
    next_burst(bursts, 0)  # the new folders themselves
    seen = len(bursts)
    css.write_text("body { color: blue }")
    eventually(
        lambda: any(css.resolve() in b for b in bursts[seen - 1 :]), what="the stylesheet's change"
    )


def test_building_into_a_folder_beside_the_sources_causes_no_rebuild(folder, tmp_path):
    """The real build reads every source and writes the whole site: no event of
    that may start another build (watchdog also reports files opened for reading)."""
    from datetime import UTC, datetime

    from bulletin.build import build
    from bulletin.schedule import Visibility

    folder.issue("2024-01")
    site = folder.root / "site"  # even inside the bulletin's folder
    bursts: list[frozenset[Path]] = []
    watcher = Watcher(Sources(folder.root, ignore=[site]), bursts.append, quiet=0.2)
    watcher.start()
    try:
        for _ in range(3):
            build(folder.root, site, Visibility(datetime.now(UTC), drafts=True), pdf=False)
        (folder.root / "issues/2024-01/first.md").touch()
        burst = next_burst(bursts, 0)
    finally:
        watcher.stop()
    assert burst == {(folder.root / "issues/2024-01/first.md").resolve()}


# -- the build queue ------------------------------------------------------------


def test_saves_during_a_build_are_merged_into_one_more_build(tmp_path):
    fake = FakeSite(tmp_path / "site")
    preview = Preview(fake, fake.site)
    preview.start()
    fake.gate = threading.Event()
    fake.entered.clear()
    preview.request(frozenset({Path("a.md")}))
    assert fake.entered.wait(WAIT)
    for name in ("b.md", "c.md", "d.md"):
        preview.request(frozenset({Path(name)}))
    fake.gate.set()
    assert preview.wait_idle(WAIT)
    preview.stop()
    assert fake.calls == [frozenset(), {Path("a.md")}, {Path("b.md"), Path("c.md"), Path("d.md")}]


def test_after_a_failed_build_the_builder_gets_every_change_since_the_last_good_one(tmp_path):
    fake = FakeSite(tmp_path / "site")
    preview = Preview(fake, fake.site)
    preview.start()
    fake.problems = [Problem("broken")]
    preview.request(frozenset({Path("a.md")}))
    assert preview.wait_idle(WAIT)
    fake.problems = None
    preview.request(frozenset({Path("b.md")}))
    assert preview.wait_idle(WAIT)
    preview.request(frozenset({Path("c.md")}))
    assert preview.wait_idle(WAIT)
    preview.stop()
    assert fake.calls[1:] == [{Path("a.md")}, {Path("a.md"), Path("b.md")}, {Path("c.md")}]
    assert preview.state.ok and preview.state.good == 3


def test_stop_does_not_wait_for_a_long_build(tmp_path):
    fake = FakeSite(tmp_path / "site")
    preview = Preview(fake, fake.site)
    preview.start()
    fake.gate = threading.Event()
    preview.request(frozenset({Path("a.md")}))
    assert fake.entered.wait(WAIT)
    preview.stop()  # returns although the build is still held at the gate
    assert preview.busy
    fake.gate.set()
    assert os.path.isdir(fake.site)

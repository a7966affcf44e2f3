"""Incremental builds: a rebuild renders and rewrites exactly what changed, and the
cache never changes the output."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bulletin.build import build
from bulletin.schedule import Visibility

NOW = Visibility(datetime(2024, 3, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")))


def tree(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def bulletin(folder):
    folder.issue("2024-01", articles={"first": "第一篇文章", "second": "第二篇文章"})
    folder.issue(
        "2024-02",
        articles={"third": "第三篇文章", "fourth": "第四篇文章"},
        publish_at="2024-02-15 09:00",
    )
    return folder


def rebuild(folder, out, **options):
    options.setdefault("pdf", False)
    return build(folder.root, out, NOW, **options)


def test_a_rebuild_with_nothing_changed_renders_and_writes_nothing(bulletin, tmp_path):
    out = tmp_path / "site"
    first = rebuild(bulletin, out)
    assert first.rendered == len(first.pages) and first.written
    before = mtimes(out)
    again = rebuild(bulletin, out)
    assert (again.rendered, again.written, again.deleted) == (0, [], [])
    assert mtimes(out) == before


def test_editing_an_article_body_rewrites_only_its_page_the_feed_and_its_search_shard(
    bulletin, tmp_path
):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新增一段正文。\n", encoding="utf-8")
    result = rebuild(bulletin, out)
    assert sorted(result.written) == [
        "assets/search/2024.js",
        "feed.xml",
        "issues/2024-01/first.html",
    ]
    assert "新增一段正文" in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")


def test_retitling_an_article_rewrites_every_page_that_shows_the_title(bulletin, tmp_path):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    path = bulletin.root / "issues/2024-01/second.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("第二篇文章", "改过的标题", 1), encoding="utf-8"
    )
    result = rebuild(bulletin, out)
    shows = {p for p, data in tree(out).items() if "改过的标题".encode() in data}
    assert set(result.written) == shows | {"issues/2024-01/second.html"}
    assert {
        "issues/2024-01/index.html",
        "issues/2024-01/first.html",
        "tags/科技创新/index.html",
        "regions/内蒙古/index.html",
        "feed.xml",
        "assets/search/2024.js",
    } <= shows
    assert "index.html" not in result.written  # the home page shows only the latest issue


def test_a_deleted_article_takes_its_page_with_it(bulletin, tmp_path):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    issue = bulletin.root / "issues/2024-02/issue.yaml"
    issue.write_text(
        issue.read_text(encoding="utf-8").replace("  - fourth\n", ""), encoding="utf-8"
    )
    (bulletin.root / "issues/2024-02/fourth.md").unlink()
    result = rebuild(bulletin, out)
    assert result.deleted == ["issues/2024-02/fourth.html"]
    assert not (out / "issues/2024-02/fourth.html").exists()
    assert "第四篇文章".encode() not in b"".join(tree(out).values())


def test_a_template_change_renders_again_only_the_pages_that_use_it(bulletin, tmp_path):
    out = tmp_path / "site"
    first = rebuild(bulletin, out)
    override = bulletin.root / "themes/default/templates/terms.html"
    override.parent.mkdir(parents=True)
    from bulletin.render import builtin_themes_dir

    source = (builtin_themes_dir() / "default/templates/terms.html").read_text(encoding="utf-8")
    changed = source.replace("<h1>{{ kind_name }}</h1>", "<h1>全部{{ kind_name }}</h1>")
    assert changed != source
    override.write_text(changed, encoding="utf-8")
    result = rebuild(bulletin, out)
    assert result.rendered == 2
    assert sorted(result.written) == ["regions/index.html", "tags/index.html"]
    assert "全部专题" in (out / "tags/index.html").read_text(encoding="utf-8")
    assert len(first.pages) == len(result.pages)


def test_the_output_is_the_same_with_and_without_the_cache(bulletin, tmp_path):
    rebuild(bulletin, tmp_path / "warm-up")
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n改动。\n", encoding="utf-8")
    rebuild(bulletin, tmp_path / "cached")
    rebuild(bulletin, tmp_path / "uncached", use_cache=False)
    assert tree(tmp_path / "cached") == tree(tmp_path / "uncached")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
@pytest.mark.parametrize("name", ["parsed.sqlite", "bodies.sqlite", "manifest"])
def test_a_damaged_cache_file_never_changes_the_output(bulletin, tmp_path, name, damage):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    expected = tree(out)
    cache = bulletin.root / ".bulletin-cache"
    target = next((cache / "outputs").glob("*.manifest")) if name == "manifest" else cache / name
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    elif damage == "garbage":
        target.write_bytes(b"not a cache file at all")
    else:
        target.unlink()
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n改动。\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace("\n改动。\n", ""), encoding="utf-8")
    result = rebuild(bulletin, out)
    assert tree(out) == expected
    assert rebuild(bulletin, out).rendered == 0, "the cache is whole again"
    assert result.pages


def test_a_failed_rebuild_leaves_the_site_and_writes_no_temporary_files(bulletin, tmp_path, cli):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    before = tree(out)
    override = bulletin.root / "themes/default/templates/404.html"
    override.parent.mkdir(parents=True)
    override.write_text("{% extends 'base.html' %}{% block content %}{{ nope }}{% endblock %}")
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新的一段。\n", encoding="utf-8")
    result = cli("-C", bulletin.root, "build", "--no-pdf", "-o", out, "--now", "2024-03-01T09:00")
    assert result.exit_code != 0 and "404.html" in result.output
    assert tree(out) == before


def age_inputs(folder, seconds=60):
    """Make every input look older than the racy window, as files edited a while ago."""
    past = datetime.now().timestamp() - seconds
    for path in folder.root.rglob("*"):
        if path.is_file() and ".bulletin-cache" not in path.parts:
            os.utime(path, (past, past))


def test_an_up_to_date_output_is_not_even_loaded(bulletin, tmp_path, monkeypatch):
    out = tmp_path / "site"
    age_inputs(bulletin)
    first = rebuild(bulletin, out)
    from bulletin.build import Builder

    real_load = Builder.load

    def no_loading(*args, **kwargs):
        raise AssertionError("an up-to-date build loaded the bulletin")

    monkeypatch.setattr(Builder, "load", no_loading)
    again = rebuild(bulletin, out)
    assert again.pages == first.pages and (again.rendered, again.written) == (0, [])
    assert (again.title, again.issues, again.articles) == (first.title, 2, 4)
    monkeypatch.setattr(Builder, "load", real_load)
    assert len(again.bulletin.articles) == 4, "a caller that asks gets the bulletin"
    assert all(a.title in a.html for a in again.bulletin.articles)


def test_a_missing_output_file_is_made_again(bulletin, tmp_path):
    out = tmp_path / "site"
    age_inputs(bulletin)
    rebuild(bulletin, out)
    (out / "issues/2024-01/first.html").unlink()
    result = rebuild(bulletin, out)
    assert result.written == ["issues/2024-01/first.html"]


def test_a_publish_time_between_two_builds_is_noticed(folder, tmp_path):
    folder.issue("2024-01")
    folder.issue(
        "2024-02",
        articles={"third": "第三篇文章"},
        status="scheduled",
        publish_at="2024-02-15 09:00",
    )
    age_inputs(folder)
    out = tmp_path / "site"
    zone = ZoneInfo("Asia/Shanghai")
    before = build(
        folder.root, out, Visibility(datetime(2024, 2, 15, 8, 59, tzinfo=zone)), pdf=False
    )
    assert "issues/2024-02/index.html" not in before.pages
    after = build(folder.root, out, Visibility(datetime(2024, 2, 15, 9, 0, tzinfo=zone)), pdf=False)
    assert "issues/2024-02/index.html" in after.written
    back = build(folder.root, out, Visibility(datetime(2024, 2, 15, 8, 0, tzinfo=zone)), pdf=False)
    assert back.deleted and not (out / "issues/2024-02/index.html").exists()


def test_an_unchanged_issue_folder_is_neither_read_nor_planned_again(
    bulletin, tmp_path, monkeypatch
):
    out = tmp_path / "site"
    age_inputs(bulletin)  # files saved just now are compared by content, not by time
    rebuild(bulletin, out)
    import bulletin.load.issues as issues
    from bulletin.write.output import Output

    loaded, kept = [], {}
    real_load, real_keep = issues.load_issue, Output.keep_group

    def spy_load(folder, *args, **kwargs):
        loaded.append(folder.name)
        return real_load(folder, *args, **kwargs)

    def spy_keep(self, name, key):
        kept[name] = real_keep(self, name, key)
        return kept[name]

    monkeypatch.setattr("bulletin.load.project.load_issue", spy_load)
    monkeypatch.setattr(Output, "keep_group", spy_keep)
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新的一段。\n", encoding="utf-8")
    result = rebuild(bulletin, out)
    assert loaded == ["2024-01"], "only the folder with the edit is read"
    assert kept == {"2024-01": False}, "the other issue is not even planned"
    assert "issues/2024-02/third.html" in result.pages, "kept pages still count as the site's"
    assert "issues/2024-02/third.html" in (out / "sitemap.xml").read_text(encoding="utf-8")
    rebuild(bulletin, tmp_path / "uncached", use_cache=False)
    assert tree(out) == tree(tmp_path / "uncached")


def test_a_kept_issue_whose_page_was_deleted_from_the_output_is_planned_again(bulletin, tmp_path):
    out = tmp_path / "site"
    rebuild(bulletin, out)
    (out / "issues/2024-02/third.html").unlink()
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新的一段。\n", encoding="utf-8")
    result = rebuild(bulletin, out)
    assert "issues/2024-02/third.html" in result.written
    assert (out / "issues/2024-02/third.html").is_file()


def test_an_image_removed_from_an_unchanged_article_is_reported(bulletin, tmp_path):
    folder = bulletin.root / "issues/2024-01"
    (folder / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    path = folder / "first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n![图](chart.png)\n", encoding="utf-8")
    rebuild(bulletin, tmp_path / "site")
    (folder / "chart.png").unlink()
    from bulletin.errors import BulletinError

    with pytest.raises(BulletinError, match=r"chart\.png"):
        rebuild(bulletin, tmp_path / "site")


def test_bodies_wait_in_the_store_not_in_memory(bulletin, tmp_path):
    """A large archive's rendered bodies would be most of a build's memory (in every
    worker): once stored, a body is fetched by the page that shows it."""
    from bulletin.build import Builder

    for _ in range(2):  # parsed afresh, then from the cache
        articles = Builder(bulletin.root).load(NOW).bulletin.articles
        assert len(articles) == 4 and not any(a.body.held for a in articles)
        assert all(a.title in a.html and a.title in a.text for a in articles)
    unstored = Builder(bulletin.root, use_cache=False).load(NOW).bulletin.articles
    assert all(a.body.held for a in unstored), "without a cache folder they stay in memory"


def test_a_file_rewritten_within_the_same_size_and_timestamp_is_noticed(bulletin, tmp_path):
    """A coarse clock (1 s on some file systems) or a quick second save keeps size and
    mtime: a file saved within the racy window is compared by content next time."""
    out = tmp_path / "site"
    rebuild(bulletin, out)
    path = bulletin.root / "issues/2024-01/first.md"
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert "第一篇文章" in text
    path.write_text(text.replace("第一篇文章", "第壹篇文章"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    rebuild(bulletin, out)
    rebuild(bulletin, tmp_path / "uncached", use_cache=False)
    assert tree(out) == tree(tmp_path / "uncached")
    assert "第壹篇文章" in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")


def test_an_edit_inside_a_symlinked_issue_folder_is_noticed(bulletin, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (bulletin.root / "issues/2024-02").rename(elsewhere / "2024-02")
    (bulletin.root / "issues/2024-02").symlink_to(elsewhere / "2024-02")
    age_inputs(bulletin)
    for path in (elsewhere / "2024-02").iterdir():
        os.utime(path, (path.stat().st_atime - 60, path.stat().st_mtime - 60))
    out = tmp_path / "site"
    rebuild(bulletin, out)
    path = elsewhere / "2024-02/third.md"
    path.write_text(path.read_text(encoding="utf-8").replace("第三篇文章", "改名的第三篇"), "utf-8")
    assert rebuild(bulletin, out).rendered > 0
    assert "改名的第三篇" in (out / "issues/2024-02/third.html").read_text(encoding="utf-8")


def test_links_that_loop_or_dangle_inside_an_issue_folder_do_not_break_the_build(
    bulletin, tmp_path
):
    folder = bulletin.root / "issues/2024-01"
    (folder / "up").symlink_to("..")  # a loop back up
    (folder / ".#first.md").symlink_to("editor@host.1234:1700000000")  # an Emacs lock
    out = tmp_path / "site"
    rebuild(bulletin, out)
    age_inputs(bulletin)
    rebuild(bulletin, out)
    assert rebuild(bulletin, out).rendered == 0
    assert (out / "issues/2024-01/first.html").is_file()


def test_a_damaged_body_store_is_named_cleared_and_rebuilt(bulletin, tmp_path):
    """A torn write in the middle of the store of rendered articles: the build that
    meets it says so and clears it, and the next build is whole again."""
    from bulletin.errors import BulletinError

    for number in range(1, 30):  # bodies over many database pages
        bulletin.issue(f"2023-{number:02d}", articles={f"a{number}": f"文章{number}"})
        path = bulletin.root / f"issues/2023-{number:02d}/a{number}.md"
        path.write_text(path.read_text(encoding="utf-8") + "正文" * 3000 + "\n", "utf-8")
    rebuild(bulletin, tmp_path / "site")
    store = bulletin.root / ".bulletin-cache/bodies.sqlite"
    with store.open("r+b") as stream:
        stream.seek(store.stat().st_size // 2)
        stream.write(b"\xff" * 20000)
    out = tmp_path / "again"
    with pytest.raises(BulletinError, match=r"cache of rendered articles[\s\S]*build again"):
        rebuild(bulletin, out)
    rebuild(bulletin, out)
    rebuild(bulletin, tmp_path / "uncached", use_cache=False)
    assert tree(out) == tree(tmp_path / "uncached")


def test_a_long_lived_builder_survives_the_cache_being_deleted(bulletin, tmp_path):
    import shutil

    from bulletin.build import Builder

    builder = Builder(bulletin.root, persist=False)  # as the preview keeps one
    out = tmp_path / "site"
    builder.build(out, NOW, pdf=False)
    shutil.rmtree(bulletin.root / ".bulletin-cache")
    path = bulletin.root / "issues/2024-01/first.md"
    for sentence in ("新增一段。", "再加一段。"):
        path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", "utf-8")
        builder.build(out, NOW, pdf=False)
        assert sentence in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")


def test_a_build_walks_each_issue_folder_once(bulletin, tmp_path, monkeypatch):
    """The up-to-date check walks the inputs; the loader's cache takes its digests of
    the issue folders instead of walking them again."""
    import bulletin.uptodate as uptodate

    out = tmp_path / "site"
    rebuild(bulletin, out)
    walked = []
    real = uptodate.tree_digest

    def spy(folder, *args, **kwargs):
        walked.append(os.path.basename(folder))
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(uptodate, "tree_digest", spy)
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新的一段。\n", encoding="utf-8")
    assert rebuild(bulletin, out).rendered
    assert sorted(w for w in walked if w.startswith("2024-")) == ["2024-01", "2024-02"]


# -- a rebuild after edits of text: only the edited issues and the pages showing them


@pytest.fixture
def archive(folder):
    """Two years of issues, two of them recent (in the feed), one a draft, one with a
    warning (an article file it does not list)."""
    folder.write(
        "bulletin.yaml", (folder.root / "bulletin.yaml").read_text() + "recent_issues: 2\n"
    )
    for issue_id, day in (("2023-01", "2023-01-15"), ("2023-02", "2023-02-15")):
        folder.issue(
            issue_id,
            articles={"a": f"{issue_id} 甲", "b": f"{issue_id} 乙"},
            publish_at=f"{day} 09:00",
        )
    for issue_id, day in (("2024-01", "2024-01-15"), ("2024-02", "2024-02-15")):
        folder.issue(
            issue_id,
            articles={"c": f"{issue_id} 丙", "d": f"{issue_id} 丁"},
            publish_at=f"{day} 09:00",
        )
    folder.issue(
        "2024-03", articles={"e": "草稿文章"}, status="draft", publish_at="2024-02-20 09:00"
    )
    folder.write("issues/2023-02/unlisted.md", "---\ntitle: 没有列出\n---\n正文。\n")
    folder.write("issues/2023-01/photo.png", b"\x89PNG not really")
    return folder


def edit_text(folder, relative, text="\n改过的一段正文。\n"):
    path = folder.root / "issues" / relative
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def spy_loads(monkeypatch):
    """The issue folders a build loads (from the cache or afresh)."""
    from bulletin.load.parsecache import ParseCache

    loaded, real = [], ParseCache.issue

    def spy(self, folder, load, report):
        loaded.append(folder.name)
        return real(self, folder, load, report)

    monkeypatch.setattr(ParseCache, "issue", spy)
    return loaded


def assert_as_from_scratch(folder, out, result, tmp_path):
    fresh = tmp_path / "fresh"
    expected = rebuild(folder, fresh, use_cache=False)
    assert tree(out) == tree(fresh)
    assert result.pages == expected.pages
    assert (result.issues, result.articles) == (expected.issues, expected.articles)
    assert result.warnings == expected.warnings


def test_an_edit_of_text_loads_only_the_issues_its_pages_list(archive, tmp_path, monkeypatch):
    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    loaded = spy_loads(monkeypatch)
    edit_text(archive, "2023-01/a.md")
    result = rebuild(archive, out)
    # the edited issue, the other issue of its year (their search data), the recent ones
    assert sorted(loaded) == ["2023-01", "2023-02", "2024-01", "2024-02"]
    assert sorted(result.written) == ["assets/search/2023.js", "issues/2023-01/a.html"]
    assert result.rendered == 2
    assert_as_from_scratch(archive, out, result, tmp_path)


EDITS = {
    "text of an old issue": lambda f: edit_text(f, "2023-02/b.md"),
    "text of a recent issue": lambda f: edit_text(f, "2024-02/c.md"),
    "text of a draft": lambda f: edit_text(f, "2024-03/e.md"),
    "texts of two issues": lambda f: (edit_text(f, "2023-01/b.md"), edit_text(f, "2024-01/d.md")),
    "an image added": lambda f: f.write("issues/2023-02/chart.png", b"\x89PNG chart"),
    "an image removed": lambda f: (f.root / "issues/2023-01/photo.png").unlink(),
    "the unlisted article listed": lambda f: f.write(
        "issues/2023-02/issue.yaml",
        "year: 2023\nnumber: 2\nstatus: published\npublish_at: 2023-02-15 09:00\n"
        "articles:\n  - a\n  - b\n  - unlisted\n",
    ),
    "a new issue": lambda f: f.issue(
        "2024-04", articles={"z": "新一期"}, publish_at="2024-02-25 09:00"
    ),
    "an issue removed": lambda f: __import__("shutil").rmtree(f.root / "issues/2023-01"),
}


def _retitle(folder, relative, before, after):
    path = folder.root / "issues" / relative
    path.write_text(path.read_text(encoding="utf-8").replace(before, after, 1), encoding="utf-8")


EDITS["a title"] = lambda f: _retitle(f, "2024-01/c.md", "2024-01 丙", "新的标题")
EDITS["an embargo"] = lambda f: _retitle(
    f, "2024-02/d.md", "title:", "publish_at: 2024-03-20 09:00\ntitle:"
)


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_rebuild_after_an_edit_is_the_same_as_a_build_from_scratch(archive, tmp_path, edit):
    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    edit(archive)
    result = rebuild(archive, out)
    assert_as_from_scratch(archive, out, result, tmp_path)
    again = rebuild(archive, out)  # and the one after it, taken from the stamp
    assert (again.rendered, again.written) == (0, [])
    assert_as_from_scratch(archive, out, again, tmp_path)


def test_an_edit_after_a_page_was_changed_by_hand_restores_the_page(archive, tmp_path):
    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    (out / "archive/index.html").write_text("changed by hand", encoding="utf-8")
    edit_text(archive, "2023-01/a.md")
    result = rebuild(archive, out)
    assert "archive/index.html" in result.written
    assert_as_from_scratch(archive, out, result, tmp_path)


def test_a_warning_stays_until_it_is_mended_when_other_issues_are_edited(archive, tmp_path):
    out = tmp_path / "site"
    age_inputs(archive)
    first = rebuild(archive, out)
    assert any("unlisted.md" in str(w) for w in first.warnings)
    edit_text(archive, "2024-02/c.md")
    assert any("unlisted.md" in str(w) for w in rebuild(archive, out).warnings)
    (archive.root / "issues/2023-02/unlisted.md").unlink()
    assert not any("unlisted.md" in str(w) for w in rebuild(archive, out).warnings)


def test_the_preview_builder_rebuilds_an_edit_of_text_alone(archive, tmp_path, monkeypatch):
    from bulletin.build import Builder

    out = tmp_path / "site"
    age_inputs(archive)
    builder = Builder(archive.root, persist=False)
    builder.build(out, NOW, pdf=False)
    loaded = spy_loads(monkeypatch)
    edit_text(archive, "2024-01/d.md", "\n预览里的新段落。\n")
    result = builder.build(out, NOW, pdf=False)
    assert sorted(loaded) == ["2024-01", "2024-02"]
    assert "预览里的新段落" in (out / "issues/2024-01/d.html").read_text(encoding="utf-8")
    assert_as_from_scratch(archive, out, result, tmp_path)


def test_bodies_of_old_versions_of_articles_are_collected(bulletin, tmp_path, monkeypatch):
    import sqlite3

    import bulletin.load.bodies as bodies
    import bulletin.load.parsecache as parsecache

    monkeypatch.setattr(parsecache, "GARBAGE_ALLOWED", 2)
    out = tmp_path / "site"
    rebuild(bulletin, out)
    store = bulletin.root / ".bulletin-cache/bodies.sqlite"

    def stored() -> int:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT COUNT(*) FROM bodies").fetchone()[0]

    path = bulletin.root / "issues/2024-01/first.md"
    for round_ in range(4):  # each edit leaves one body no entry names
        path.write_text(path.read_text(encoding="utf-8") + f"\n第{round_}次。\n", encoding="utf-8")
        rebuild(bulletin, out)
    assert stored() == 4 + 4, "bodies stored within the hour are kept"
    monkeypatch.setattr(bodies, "KEEP_SECONDS", -1)
    path.write_text(path.read_text(encoding="utf-8") + "\n最后一次。\n", encoding="utf-8")
    result = rebuild(bulletin, out)
    assert stored() == 4, "one body for each article, the others collected"
    assert "最后一次" in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")
    assert_as_from_scratch(bulletin, out, result, tmp_path)


def test_a_cache_from_another_version_is_started_afresh(bulletin, tmp_path):
    import sqlite3

    out = tmp_path / "site"
    rebuild(bulletin, out)
    parsed = bulletin.root / ".bulletin-cache/parsed.sqlite"
    with sqlite3.connect(parsed) as db:  # as an older bulletin left it
        db.execute("DROP TABLE files")
        db.execute("CREATE TABLE files (path TEXT PRIMARY KEY, record BLOB)")
        db.execute("PRAGMA user_version = 1")
    path = bulletin.root / "issues/2024-01/first.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新版本。\n", encoding="utf-8")
    result = rebuild(bulletin, out)
    assert_as_from_scratch(bulletin, out, result, tmp_path)
    with sqlite3.connect(parsed) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] > 0


@pytest.mark.parametrize("edit", [False, True], ids=["nothing edited", "text edited"])
def test_an_output_folder_deleted_by_hand_is_built_whole_again(archive, tmp_path, edit):
    import shutil

    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    shutil.rmtree(out)
    if edit:
        edit_text(archive, "2024-02/c.md")
    result = rebuild(archive, out)
    assert_as_from_scratch(archive, out, result, tmp_path)
    assert_as_from_scratch(archive, out, rebuild(archive, out), tmp_path)


def test_the_bulletin_of_a_rebuild_after_an_edit_of_text_is_all_of_it(archive, tmp_path):
    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    edit_text(archive, "2023-01/a.md")
    result = rebuild(archive, out)
    assert [i.id for i in result.bulletin.issues] == ["2024-02", "2024-01", "2023-02", "2023-01"]


def test_a_mended_warning_in_a_symlinked_issue_folder_goes(archive, tmp_path):
    out = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    (archive.root / "issues/2023-02").rename(elsewhere)
    (archive.root / "issues/2023-02").symlink_to(elsewhere, target_is_directory=True)
    age_inputs(archive)
    rebuild(archive, out)
    (elsewhere / "unlisted.md").unlink()
    result = rebuild(archive, out)
    assert not any("unlisted.md" in str(w) for w in result.warnings)
    assert_as_from_scratch(archive, out, result, tmp_path)


def test_warnings_come_in_the_same_order_however_much_was_loaded(archive, tmp_path):
    archive.write("issues/2024-01/stray.md", "---\ntitle: 也没有列出\n---\n正文。\n")
    archive.write("bulletin.yaml", (archive.root / "bulletin.yaml").read_text() + "colour: red\n")
    out = tmp_path / "site"
    age_inputs(archive)
    rebuild(archive, out)
    edit_text(archive, "2023-02/a.md")
    result = rebuild(archive, out)
    assert len(result.warnings) == 3
    assert_as_from_scratch(archive, out, result, tmp_path)


def test_a_long_lived_builder_survives_bodies_collected_by_another_build(
    bulletin, tmp_path, monkeypatch
):
    import bulletin.load.bodies as bodies
    import bulletin.load.parsecache as parsecache
    from bulletin.build import Builder

    monkeypatch.setattr(parsecache, "GARBAGE_ALLOWED", 0)
    monkeypatch.setattr(bodies, "KEEP_SECONDS", -1)  # as if stored over an hour ago
    out = tmp_path / "site"
    age_inputs(bulletin)
    long_lived = Builder(bulletin.root)
    long_lived.build(out, NOW, pdf=False)
    path = bulletin.root / "issues/2024-01/first.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("正文第一段", "正文第一段（改）"), encoding="utf-8")
    rebuild(bulletin, out)  # another build: the body of the original is collected
    path.write_text(original, encoding="utf-8")  # the edit undone
    result = long_lived.build(out, NOW, pdf=False)
    assert_as_from_scratch(bulletin, out, result, tmp_path)


def test_articles_in_a_subfolder_of_an_issue_stay_cached(folder, tmp_path, monkeypatch):
    import bulletin.load.bodies as bodies
    import bulletin.load.parsecache as parsecache

    monkeypatch.setattr(parsecache, "GARBAGE_ALLOWED", 0)
    monkeypatch.setattr(bodies, "KEEP_SECONDS", -1)
    folder.issue("2024-01", articles={"first": "第一篇文章", "second": "第二篇文章"})
    yaml = folder.root / "issues/2024-01/issue.yaml"
    yaml.write_text(yaml.read_text().replace("  - first", "  - parts/first"))
    (folder.root / "issues/2024-01/parts").mkdir()
    (folder.root / "issues/2024-01/first.md").rename(folder.root / "issues/2024-01/parts/first.md")
    folder.issue("2024-02", articles={"third": "第三篇文章"}, publish_at="2024-02-15 09:00")
    out = tmp_path / "site"
    age_inputs(folder)
    rebuild(folder, out)
    loaded = spy_parsed(monkeypatch)
    edit_text(folder, "2024-02/third.md")
    result = rebuild(folder, out)
    assert loaded == ["third.md"], "the article in the subfolder is not parsed again"
    assert_as_from_scratch(folder, out, result, tmp_path)


def spy_parsed(monkeypatch):
    """The files a build parses again."""
    import bulletin.load.parsecache as parsecache

    parsed, real = [], parsecache._parse

    def spy(paths, *args, **kwargs):
        parsed.extend(path.name for path in paths if path.suffix == ".md")
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(parsecache, "_parse", spy)
    return parsed


def test_bodies_collected_by_another_build_while_this_one_parses_are_noticed(
    folder, tmp_path, monkeypatch
):
    import sqlite3

    import bulletin.load.parsecache as parsecache
    from bulletin.build import Builder

    folder.write(
        "bulletin.yaml", (folder.root / "bulletin.yaml").read_text() + "recent_issues: 1\n"
    )
    folder.issue("2024-01")
    folder.issue(
        "2023-05", articles={"other": "另一篇", "more": "又一篇"}, publish_at="2023-05-15 09:00"
    )
    age_inputs(folder)
    builder = Builder(folder.root, persist=False)  # as the preview keeps one
    out = tmp_path / "site"
    builder.build(out, NOW, pdf=False)
    other = folder.root / "issues/2023-05/other.md"
    digest = builder.parse_cache.files[str(other)].parsed.body.digest
    real = parsecache.run_split

    def collected_meanwhile(function, items, *, minimum):
        with sqlite3.connect(folder.root / ".bulletin-cache/bodies.sqlite") as db:
            db.execute("DELETE FROM bodies WHERE digest = ?", (digest,))  # another build's
        return real(function, items, minimum=minimum)

    monkeypatch.setattr(parsecache, "run_split", collected_meanwhile)
    edit_text(folder, "2024-01/second.md")  # its pages do not show the other year's
    builder.build(out, NOW, pdf=False)
    monkeypatch.setattr(parsecache, "run_split", real)
    edit_text(folder, "2023-05/more.md")  # the year's search data shows other.md's text
    result = builder.build(out, NOW, pdf=False)
    assert_as_from_scratch(folder, out, result, tmp_path)


def test_a_build_running_beside_another_does_not_collect_the_bodies_it_renders(
    bulletin, tmp_path, monkeypatch
):
    """Build A parses an edited article and stores its body; while A renders, build B
    sees the article edited again, stores the newer body and so leaves A's unnamed.
    B must not delete it while A runs: A would find it missing."""
    import bulletin.load.bodies as bodies
    import bulletin.load.parsecache as parsecache
    import bulletin.parallel as parallel
    from bulletin.build import Builder

    monkeypatch.setattr(parsecache, "GARBAGE_ALLOWED", 0)
    monkeypatch.setattr(bodies, "KEEP_SECONDS", -1)  # as if stored over an hour ago
    out, beside = tmp_path / "site", tmp_path / "beside"
    age_inputs(bulletin)
    rebuild(bulletin, out)
    edit_text(bulletin, "2024-01/first.md", "\n第二版。\n")
    real, ran = parallel.run_split, []

    def other_build_meanwhile(function, items, *, minimum):
        if not ran:  # A has parsed and stored version 2; it is about to render
            ran.append(True)
            edit_text(bulletin, "2024-01/first.md", "\n第三版。\n")
            Builder(bulletin.root).build(beside, NOW, pdf=False)
        return real(function, items, minimum=minimum)

    monkeypatch.setattr(parallel, "run_split", other_build_meanwhile)
    Builder(bulletin.root).build(out, NOW, pdf=False)
    assert ran
    assert "第二版" in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")
    monkeypatch.setattr(parallel, "run_split", real)
    result = rebuild(bulletin, out)  # alone now: it may collect, and is right
    assert "第三版" in (out / "issues/2024-01/first.html").read_text(encoding="utf-8")
    assert_as_from_scratch(bulletin, out, result, tmp_path)

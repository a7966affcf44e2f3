"""Building a bulletin: the one entry point that the CLI, the preview server and the
publisher call.

Load and validate everything first (through the parse cache); then render the pages
whose inputs changed; the output writes only changed bytes, and puts them in place
only when all of it succeeded. Three ways through, cheapest first: nothing changed
since the last build (its stamp says so): the build is skipped; only the text of
articles in some issue folders changed: those issues are loaded and the pages showing
their text rendered, the rest kept; else everything is loaded and planned, and the
pages whose inputs changed rendered. `build()` and `check()` serve one-off commands;
a `Builder` builds the same bulletin again and again (the preview server keeps one)
and keeps in memory what does not change between builds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bulletin import __version__, uptodate
from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.issueindex import IssueIndex
from bulletin.load.cachelock import CacheLock
from bulletin.result import BuildResult, in_order
from bulletin.schedule import Visibility, visible_bulletin
from bulletin.write.output import Output, manifest_path

if TYPE_CHECKING:
    import jinja2

    from bulletin.load.parsecache import ParseCache
    from bulletin.model import Bulletin, Issue
    from bulletin.render.site import Digests
    from bulletin.render.theme import Theme
    from bulletin.result import PdfResult

# The loaders and the renderers are imported by the methods that use them: the
# commonest build finds its output up to date, and importing them would cost it more
# than everything else it does.

ProgressHook = Callable[[str, int, int], None]  # (issue id, done, total) as PDFs finish
CACHE_DIR = ".bulletin-cache"  # inside the bulletin; deleting it never changes the output
PARALLEL_PAGES = 400  # fewer pages to render are not worth starting workers

_SOURCE_SUFFIXES = {".md", ".yaml", ".yml"}


@dataclass(frozen=True)
class Loaded:
    bulletin: Bulletin  # only what is visible under the build's Visibility
    theme: Theme
    warnings: list[Problem]
    visibility: Visibility  # with `now` made time-zone aware
    boundaries: tuple[datetime, ...]  # every publish time, where visibility changes
    schedules: dict[str, tuple]  # issue folder name -> its publish times, drafts included


@dataclass(frozen=True)
class _Run:
    """What one build was asked for."""

    output: Path
    manifest: Path | None
    visibility: Visibility
    pdf: bool
    links: bool
    progress: ProgressHook | None


def load(root: Path, visibility: Visibility, *, use_cache: bool = False) -> Loaded:
    """Everything a build needs, validated; raises BulletinError with all problems."""
    return Builder(root, use_cache=use_cache).load(visibility)


def build(
    root: Path,
    output: Path,
    visibility: Visibility,
    *,
    pdf: bool = True,
    progress: ProgressHook | None = None,
    use_cache: bool = True,
) -> BuildResult:
    """Build the site (and PDFs) into `output`, which changes only on success."""
    return Builder(root, use_cache=use_cache).build(output, visibility, pdf=pdf, progress=progress)


def check(root: Path, visibility: Visibility) -> BuildResult:
    """Validate everything and render every page in memory; write nothing."""
    return Builder(root, use_cache=False).check(visibility)


class Builder:
    """Builds one bulletin, again and again if asked, keeping the parse cache and the
    Jinja environment (with its compiled templates) in memory between builds.

    `persist=False` is for a builder whose every build follows an edit (the preview):
    it neither keeps the up-to-date stamp nor saves the parse cache after each build,
    which for a large archive cost more than the build of one edit itself."""

    def __init__(self, root: Path, *, use_cache: bool = True, persist: bool = True) -> None:
        self.root = root
        self.cache = root / CACHE_DIR if use_cache else None
        self.persist = persist
        self._parse_cache: ParseCache | None = None
        self._environment: tuple[object, jinja2.Environment] | None = None
        self._stamp: tuple[uptodate.Stamp, BuildResult] | None = None  # when not persisted
        self._digest_memo: dict = {}  # the articles' digests, by object (see Digests)
        self._lock = CacheLock(self.cache)

    @property
    def parse_cache(self) -> ParseCache:
        if self._parse_cache is None:
            from bulletin.load.parsecache import ParseCache

            self._parse_cache = ParseCache(self.cache, save=self.persist)
        return self._parse_cache

    def load(self, visibility: Visibility, only: list[str] | None = None) -> Loaded:
        """`only`: just these issue folders (by name), for a rebuild after edits."""
        from bulletin.load.project import load_bulletin
        from bulletin.render.theme import load_theme

        report = Report()
        bulletin = load_bulletin(self.root, report, self.parse_cache, only)
        theme = load_theme(bulletin.config, report) if bulletin else None
        report.raise_if_errors(self.root)
        assert bulletin is not None and theme is not None
        visibility = visibility.in_zone(bulletin.config.timezone)
        schedules = {
            issue.path.name: (issue.publish_at, *(a.publish_at for a in issue.articles))
            for issue in bulletin.issues
        }
        times = {t for moments in schedules.values() for t in moments if t is not None}
        visible = visible_bulletin(bulletin, visibility)
        return Loaded(visible, theme, report.warnings, visibility, tuple(sorted(times)), schedules)

    def environment(self, theme: Theme) -> jinja2.Environment:
        """One Jinja environment per theme; Jinja itself notices edited templates."""
        from bulletin.render.templates import make_environment

        key = (theme.folders, repr(theme.settings))
        if self._environment is None or self._environment[0] != key:
            compiled = self.cache / "templates" if self.cache else None
            self._environment = (key, make_environment(theme, compiled))
        env = self._environment[1]
        env.__dict__.pop("bulletin_template_digests", None)  # templates may have changed
        return env

    def check(self, visibility: Visibility) -> BuildResult:
        from bulletin.render.site import render_pages

        started = time.perf_counter()
        with self._reported():
            loaded = self.load(visibility)
            env = self.environment(loaded.theme)
            now = loaded.visibility.now
            pages = [path for path, _ in render_pages(loaded.bulletin, env, now=now, pdf=False)]
        result = BuildResult.of(None, loaded.bulletin, loaded.warnings)
        result.pages, result.seconds = pages, time.perf_counter() - started
        return result

    def build(
        self,
        output: Path,
        visibility: Visibility,
        *,
        pdf: bool = True,
        pdf_links: bool | None = None,
        progress: ProgressHook | None = None,
    ) -> BuildResult:
        """Build into `output`. `pdf_links` (default: `pdf`) says whether pages link
        the issue PDFs, for a caller that makes them itself (the preview)."""
        links = pdf if pdf_links is None else pdf_links
        with self._reported():
            result = self._build(output, visibility, pdf, links, progress)
        if self._parse_cache is not None:  # None: a no-op, which touched no cache
            self._collect_garbage()
        return result

    def _collect_garbage(self) -> None:
        """Delete the bodies of old versions of articles, once no other build runs
        (one that does may still fetch them: see cachelock)."""
        with self._lock.alone() as alone:
            if alone:
                self.parse_cache.collect_bodies()

    def issue_pdf(self, issue_id: str, target: Path, visibility: Visibility) -> PdfResult | None:
        """One issue's PDF, written to `target`, through the PDF cache; None when the
        issue is not visible. The preview makes the PDF of the issue being edited."""
        from bulletin.render.pdf import pdf_job, pdf_key
        from bulletin.render.pdfjobs import PdfCache, make_pdfs

        with self._reported():
            loaded = self.load(visibility)
            issue = next((i for i in loaded.bulletin.issues if i.id == issue_id), None)
            if issue is None:
                return None
            env = self.environment(loaded.theme)
            key = pdf_key(issue, loaded.bulletin, env, loaded.theme)
            store = PdfCache(self.cache / "pdf") if self.cache else None
            found = store.read(key, issue.id) if store else None
            if found:
                target.write_bytes(found[0])
                return found[1]
            _refuse_tofu([issue], self.root)
            job = pdf_job(issue, loaded.bulletin, env, loaded.theme, key)
            return make_pdfs([(job, target)], store)[0]

    def _digests(self, loaded: Loaded, whole: bool = True) -> Digests:
        from bulletin.render.site import Digests

        return Digests(loaded.bulletin, loaded.visibility.now, self._digest_memo, whole)

    def _reported_load(self, visibility: Visibility) -> Loaded:
        with self._reported():
            return self.load(visibility)

    @contextlib.contextmanager
    def _reported(self):
        """Around every use of the cache: problems named relative to the bulletin's
        folder, and the cache's lock shared with other builds."""
        with self._lock.shared(), _RelativeProblems(self.root):
            yield

    def _build(
        self,
        output: Path,
        visibility: Visibility,
        pdf: bool,
        links: bool,
        progress: ProgressHook | None,
    ) -> BuildResult:
        started = time.perf_counter()
        manifest = manifest_path(self.cache, output) if self.cache else None
        shape = tuple(f.name for f in fields(BuildResult))  # the stamp holds one
        options = (str(output.resolve()), pdf, links, visibility.drafts, visibility.future, shape)
        if pdf:
            from bulletin.render.fonts import fonts_fingerprint

            options += (fonts_fingerprint(),)
        stamp = inputs = None
        if manifest is not None:
            skip = {output.resolve(), self.cache.resolve()}
            inputs = uptodate.inputs_digest(_inputs(self.root.resolve()), skip)
            stamp = self._read_stamp(manifest)
            replayed = self._replay(stamp, manifest, inputs, options, visibility, output)
            if replayed is not None:
                replayed.seconds = time.perf_counter() - started
                return replayed
            self.parse_cache.walked_just_now(inputs.folders)  # walked once a build
        run = _Run(output, manifest, visibility, pdf, links, progress)
        done = self._rebuild_edited(run, stamp, inputs, options) if stamp else None
        if done is None:
            done = self._build_everything(run)
        result, visibility, boundaries, index = done
        result.seconds = time.perf_counter() - started
        if manifest is not None:
            stamp_fields = {
                "inputs": inputs.digest,
                "newest_input_ns": inputs.newest_ns,
                "options": options,
                "now": visibility.now,
                "boundaries": boundaries,
                "result": result,
                "folders": inputs.folders,
                "loose": inputs.loose,
                "index": index,
            }
            self._write_stamp(manifest, stamp_fields)
        return result

    def _build_everything(self, run: _Run) -> tuple:
        loaded = self.load(run.visibility)
        env = self.environment(loaded.theme)
        result = BuildResult.of(run.output, loaded.bulletin, loaded.warnings)
        out = Output(run.output, run.manifest)
        known = self._digests(loaded)
        try:
            self._write_pages(out, loaded, env, run.links, result, known)
            for name, source in loaded.theme.static_files().items():
                out.copy(f"assets/{name}", source)
            for issue in loaded.bulletin.issues:
                _copy_issue_files(issue, out)
            if run.pdf:
                result.pdfs = list(
                    self._write_pdfs(out, loaded, env, run.progress, result).values()
                )
        except BaseException:
            out.discard()
            raise
        out.commit()
        result.written, result.deleted = out.written, out.deleted
        index = IssueIndex.of(loaded.bulletin, loaded.schedules, known)
        return result, loaded.visibility, loaded.boundaries, index

    def _rebuild_edited(self, run: _Run, stamp, inputs, options) -> tuple | None:
        """After edits inside some issue folders only, load those issues (and the few
        others their pages list) and render only the pages that show them: an archive
        of thousands of issues is not loaded, planned or checked page by page. None
        when the edits reach further than the text of articles (a title, a tag, a
        publish time, a new article), and the whole site is built instead."""
        issues_dir = self.root.resolve() / "issues"
        edited = uptodate.edited_folders(stamp, inputs, options, run.visibility.now, issues_dir)
        index: IssueIndex | None = stamp.index
        if edited is None or index is None:
            return None
        names = sorted(os.path.basename(folder) for folder in edited)
        if any(name not in index.marks or not _is_issue(issues_dir / name) for name in names):
            return None  # an issue came or went
        previous = self._stamp_result(run.manifest, stamp)
        if previous is None:
            return None
        loaded = self.load(run.visibility, only=index.around(names))
        known = self._digests(loaded, whole=False)
        if not index.same(loaded.bulletin, loaded.schedules, known, names):
            return None
        mine = [issue for issue in loaded.bulletin.issues if issue.path.name in names]
        env = self.environment(loaded.theme)
        result = previous.again(run.output, loaded.warnings, self.root, names)
        result._reload = lambda: self._reported_load(run.visibility).bulletin
        out = Output(run.output, run.manifest)
        try:
            if not self._write_pages(out, loaded, env, run.links, result, known, edited=mine):
                out.discard()  # a page was changed or removed by hand: build it all
                return None
            for issue in mine:
                _copy_issue_files(issue, out)
            if run.pdf:
                made = self._write_pdfs(out, loaded, env, run.progress, result, mine)
                kept = (dataclasses.replace(p, cached=True) for p in previous.pdfs)
                result.pdfs = [made.get(p.issue_id, p) for p in kept]
        except BaseException:
            out.discard()
            raise
        out.commit()
        result.written, result.deleted = out.written, out.deleted
        return result, loaded.visibility, stamp.boundaries, index

    def _read_stamp(self, manifest: Path) -> uptodate.Stamp | None:
        if not self.persist:  # a preview keeps its stamp in memory
            return self._stamp[0] if self._stamp else None
        return uptodate.read(manifest.with_suffix(".stamp"))

    def _stamp_result(self, manifest: Path, stamp: uptodate.Stamp) -> BuildResult | None:
        if not self.persist:
            return self._stamp[1] if self._stamp else None
        return uptodate.read_result(manifest.with_suffix(".stamp"))

    def _write_stamp(self, manifest: Path, stamp_fields: dict) -> None:
        if self.persist:
            uptodate.write(manifest.with_suffix(".stamp"), stamp_fields)
        else:
            result = stamp_fields["result"]
            kept = dataclasses.replace(result, _bulletin=None, _reload=None)
            header = uptodate.Stamp(written_ns=time.time_ns(), **{**stamp_fields, "result": None})
            self._stamp = (header, kept)

    def _replay(self, stamp, manifest, inputs, options, visibility, output) -> BuildResult | None:
        """The last build's result, when nothing it depended on has moved since."""
        if stamp is None or not uptodate.still_valid(stamp, inputs.digest, options, visibility.now):
            return None
        result = self._stamp_result(manifest, stamp)
        if result is None or not Output.intact(output, manifest):
            return None
        kept = [dataclasses.replace(pdf, cached=True) for pdf in result.pdfs]
        result = dataclasses.replace(result, rendered=0, written=[], deleted=[], pdfs=kept)
        result._reload = lambda: self._reported_load(visibility).bulletin
        return result

    def _write_pages(
        self,
        out: Output,
        loaded: Loaded,
        env: jinja2.Environment,
        links: bool,
        result: BuildResult,
        known: Digests,
        edited: list[Issue] | None = None,
    ) -> bool:
        """Render the pages whose inputs changed (on all cores when there are many);
        the writer keeps the bytes that did not change. `edited`: only the pages that
        show these issues' text, the others kept as they are; False (nothing done) when
        some of those are not as the last build left them."""
        from bulletin.parallel import run_split
        from bulletin.render.site import (
            common_context,
            digest,
            pages_showing,
            render_page,
            site_pages,
            term_page_size,
        )
        from bulletin.render.templates import template_digest

        bulletin, now = loaded.bulletin, loaded.visibility.now
        salt = digest(__version__, bulletin.config, loaded.theme.settings, links)
        common = common_context(bulletin, now, links)
        issue_templates = tuple(template_digest(env, t) for t in ("issue.html", "article.html"))

        def keep_issue(issue: Issue, inputs: str) -> bool:
            return out.keep_group(issue.id, digest(salt, issue_templates, inputs))

        if edited is None:
            per_page = term_page_size(loaded.theme.settings)
            pages = site_pages(
                bulletin, now=now, per_page=per_page, keep_issue=keep_issue, known=known
            )
        else:
            pages = pages_showing(bulletin, edited, known=known, keep_issue=keep_issue)
            mine = tuple(f"issues/{issue.id}/" for issue in edited)
            if not out.keep_others({p.path for p in pages}, mine):
                return False
        todo = []
        for page in pages:
            template = template_digest(env, page.template) if page.template else None
            key = digest(salt, page.path, template, page.inputs)
            if not out.unchanged(page.path, key, page.group):
                out.claim(page.path, page.group)
                todo.append((page, key))
        if edited is None:
            result.pages = sorted(out.claimed)

        def render(share: list) -> list:
            return [out.prepare(p.path, render_page(env, p, common).encode(), k) for p, k in share]

        if todo:
            out.begin()
        for action in run_split(render, todo, minimum=PARALLEL_PAGES):
            out.apply(action)
        result.rendered = len(todo)
        return True

    def _write_pdfs(
        self,
        out: Output,
        loaded: Loaded,
        env: jinja2.Environment,
        progress: ProgressHook | None,
        result: BuildResult,
        issues: list[Issue] | None = None,
    ) -> dict[str, PdfResult]:
        """Each issue's PDF (of `issues`, default all): kept when its inputs are
        unchanged, from the cache when rendered before, else laid out (several at a
        time). The PDFs' warnings go into the result."""
        from bulletin.render.pdf import pdf_job, pdf_key
        from bulletin.render.pdfjobs import PdfCache, make_pdfs

        bulletin, theme = loaded.bulletin, loaded.theme
        store = PdfCache(self.cache / "pdf") if self.cache else None
        results: dict[str, PdfResult] = {}
        todo = []
        for issue in bulletin.issues if issues is None else issues:
            key = pdf_key(issue, bulletin, env, theme)
            known = store.record(key, issue.id) if store else None
            if known and out.unchanged(issue.pdf_url, key):
                results[issue.id] = known
            elif store and (found := store.read(key, issue.id)):
                data, results[issue.id] = found
                out.write(issue.pdf_url, data, key)
            else:
                todo.append((issue, key))
        if todo:
            _refuse_tofu([issue for issue, _ in todo], self.root)
            with tempfile.TemporaryDirectory(prefix="bulletin-pdf-") as folder:
                jobs = [
                    (pdf_job(issue, bulletin, env, theme, key), Path(folder) / f"{issue.id}.pdf")
                    for issue, key in todo
                ]
                for (job, target), made in zip(jobs, make_pdfs(jobs, store, progress), strict=True):
                    out.write(
                        f"issues/{job.issue_id}/{job.issue_id}.pdf", target.read_bytes(), job.key
                    )
                    results[job.issue_id] = made
        made = [results[issue.id] for issue in bulletin.issues if issue.id in results]
        issues_dir = self.root.resolve() / "issues"
        result.warnings = in_order(
            [
                *result.warnings,
                *(
                    Problem(
                        f"PDF {one.issue_id}: {message}",
                        issues_dir / one.issue_id,
                        severity=Severity.WARNING,
                    )
                    for one in made
                    for message in one.warnings
                ),
            ]
        )
        return {one.issue_id: one for one in made}


class _RelativeProblems:
    """Problems raised inside a build name files relative to the bulletin's folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> None:
        if isinstance(error, BulletinError) and error.root is None:
            raise error.relative_to(self.root) from None


def _inputs(root: Path) -> list[Path]:
    """Every file a build reads: the config, the issues, the bulletin's themes and the
    built-in ones."""
    from bulletin.render import builtin_themes_dir

    return [root / "bulletin.yaml", root / "issues", root / "themes", builtin_themes_dir()]


def _refuse_tofu(issues: list[Issue], root: Path) -> None:
    """A PDF must not print blank boxes: name each missing character and its articles."""
    from bulletin.render import fonts

    missing = fonts.tofu(a for issue in issues for a in issue.articles)
    if missing:
        problems = [
            Problem(
                f"no installed font has {char!r} (U+{ord(char):04X}); the PDF would print a blank box",
                articles[0].path,
                hint=f"used in {', '.join(a.path.name for a in articles)}; install a font "
                "that covers it (see `bulletin fonts`) or replace the character",
            )
            for char, articles in sorted(missing.items())
        ]
        raise BulletinError(problems, root)


def _is_issue(folder: Path) -> bool:
    from bulletin.load.issues import ISSUE_FILE

    return (folder / ISSUE_FILE).is_file()


def _copy_issue_files(issue: Issue, out: Output) -> None:
    """Images and other files an issue's articles link to, beside its pages."""
    for folder, subfolders, files in os.walk(issue.path):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(n for n in files if _is_asset(n)):
            source = Path(folder, name)
            relative = source.relative_to(issue.path).as_posix()
            out.copy(f"issues/{issue.id}/{relative}", source)


def _is_asset(name: str) -> bool:
    """Not a source file, and not an editor's temp, swap or backup file."""
    junk = name.startswith((".", "~", "#")) or name.endswith(("~", ".swp", ".tmp"))
    return os.path.splitext(name)[1] not in _SOURCE_SUFFIXES and not junk

"""Building a bulletin: the one entry point that the CLI, the preview server and the
publisher call.

Load and validate everything first (through the parse cache); then render the pages
whose inputs changed; the output writes only changed bytes, and puts them in place
only when all of it succeeded. `build()` and `check()` serve one-off commands; a
`Builder` builds the same bulletin again and again (the preview server keeps one)
and keeps in memory what does not change between builds.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bulletin import __version__, uptodate
from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.schedule import Visibility, visible_bulletin
from bulletin.write.output import Output, manifest_path

if TYPE_CHECKING:
    import jinja2

    from bulletin.load.parsecache import ParseCache
    from bulletin.model import Bulletin, Issue
    from bulletin.render.pdf import PdfResult
    from bulletin.render.theme import Theme

# The loaders and the renderers are imported by the methods that use them: the
# commonest build finds its output up to date, and importing them would cost it more
# than everything else it does.

ProgressHook = Callable[[str, int, int], None]  # (issue id, done, total) as PDFs finish
CACHE_DIR = ".bulletin-cache"  # inside the bulletin; deleting it never changes the output
PARALLEL_PAGES = 400  # fewer pages to render are not worth starting workers

_SOURCE_SUFFIXES = {".md", ".yaml", ".yml"}


@dataclass
class BuildResult:
    output: Path | None
    title: str  # the bulletin's
    issues: int  # issues built
    articles: int  # articles built
    pages: list[str] = field(default_factory=list)  # every page of the site
    rendered: int = 0  # pages rendered (their inputs changed)
    written: list[str] = field(default_factory=list)  # files whose bytes changed
    deleted: list[str] = field(default_factory=list)  # files whose sources went away
    pdfs: list[PdfResult] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    _bulletin: Bulletin | None = field(default=None, repr=False)
    _reload: Callable[[], Bulletin] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, output: Path | None, bulletin: Bulletin, warnings: list[Problem]) -> BuildResult:
        articles = sum(len(issue.articles) for issue in bulletin.issues)
        title = bulletin.config.title
        return cls(
            output,
            title,
            len(bulletin.issues),
            articles,
            warnings=list(warnings),
            _bulletin=bulletin,
        )

    @property
    def bulletin(self) -> Bulletin:
        """What was built; a build that found its output up to date loads it on demand."""
        if self._bulletin is None:
            assert self._reload is not None
            self._bulletin = self._reload()
        return self._bulletin

    @property
    def pdf_pages(self) -> int:
        return sum(p.pages for p in self.pdfs)

    def __getstate__(self) -> dict:
        """Kept in the up-to-date stamp without the bulletin: reading it back must cost
        next to nothing."""
        return {**self.__dict__, "_bulletin": None, "_reload": None}


@dataclass(frozen=True)
class Loaded:
    bulletin: Bulletin  # only what is visible under the build's Visibility
    theme: Theme
    warnings: list[Problem]
    visibility: Visibility  # with `now` made time-zone aware
    boundaries: tuple[datetime, ...]  # every publish time, where visibility changes


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

    @property
    def parse_cache(self) -> ParseCache:
        if self._parse_cache is None:
            from bulletin.load.parsecache import ParseCache

            self._parse_cache = ParseCache(self.cache, save=self.persist)
        return self._parse_cache

    def load(self, visibility: Visibility) -> Loaded:
        from bulletin.load.project import load_bulletin
        from bulletin.render.theme import load_theme

        report = Report()
        bulletin = load_bulletin(self.root, report, self.parse_cache)
        theme = load_theme(bulletin.config, report) if bulletin else None
        report.raise_if_errors(self.root)
        assert bulletin is not None and theme is not None
        visibility = visibility.in_zone(bulletin.config.timezone)
        times = [i.publish_at for i in bulletin.issues] + [a.publish_at for a in bulletin.articles]
        boundaries = tuple(sorted({t for t in times if t is not None}))
        visible = visible_bulletin(bulletin, visibility)
        return Loaded(visible, theme, report.warnings, visibility, boundaries)

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
            return self._build(output, visibility, pdf, links, progress)

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

    def _reported_load(self, visibility: Visibility) -> Loaded:
        with self._reported():
            return self.load(visibility)

    def _reported(self):
        return _RelativeProblems(self.root)

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
            from bulletin.render.pdf import fonts_fingerprint

            options += (fonts_fingerprint(),)
        stamped = manifest is not None and self.persist
        if stamped:
            inputs, newest, folders = uptodate.inputs_digest(
                _inputs(self.root), {output.resolve(), self.cache}
            )
            replayed = self._replay(manifest, inputs, options, visibility, output)
            if replayed is not None:
                replayed.seconds = time.perf_counter() - started
                return replayed
            self.parse_cache.walked_just_now(folders)  # walked once a build
        loaded = self.load(visibility)
        env = self.environment(loaded.theme)
        result = BuildResult.of(output, loaded.bulletin, loaded.warnings)
        out = Output(output, manifest)
        try:
            self._write_pages(out, loaded, env, links, result)
            for name, source in loaded.theme.static_files().items():
                out.copy(f"assets/{name}", source)
            for issue in loaded.bulletin.issues:
                _copy_issue_files(issue, out)
            if pdf:
                self._write_pdfs(out, loaded, env, progress, result)
        except BaseException:
            out.discard()
            raise
        out.commit()
        result.written, result.deleted = out.written, out.deleted
        result.seconds = time.perf_counter() - started
        if stamped:
            stamp = {
                "inputs": inputs,
                "newest_input_ns": newest,
                "options": options,
                "now": loaded.visibility.now,
                "boundaries": loaded.boundaries,
                "result": result,
            }
            uptodate.write(manifest.with_suffix(".stamp"), stamp)
        return result

    def _replay(self, manifest, inputs, options, visibility, output) -> BuildResult | None:
        """The last build's result, when nothing it depended on has moved since."""
        stamp = uptodate.read(manifest.with_suffix(".stamp"), inputs, options, visibility.now)
        if stamp is None or not Output.intact(output, manifest):
            return None
        result = stamp.result
        result.rendered, result.written, result.deleted = 0, [], []
        result._reload = lambda: self._reported_load(visibility).bulletin
        return result

    def _write_pages(
        self, out: Output, loaded: Loaded, env: jinja2.Environment, links: bool, result: BuildResult
    ) -> None:
        """Render the pages whose inputs changed (on all cores when there are many);
        the writer keeps the bytes that did not change."""
        from bulletin.parallel import run_split
        from bulletin.render.site import (
            common_context,
            digest,
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

        todo = []
        per_page = term_page_size(loaded.theme.settings)
        for page in site_pages(bulletin, now=now, per_page=per_page, keep_issue=keep_issue):
            template = template_digest(env, page.template) if page.template else None
            key = digest(salt, page.path, template, page.inputs)
            if not out.unchanged(page.path, key, page.group):
                out.claim(page.path, page.group)
                todo.append((page, key))
        result.pages = sorted(out.claimed)

        def render(share: list) -> list:
            return [out.prepare(p.path, render_page(env, p, common).encode(), k) for p, k in share]

        if todo:
            out.begin()
        for action in run_split(render, todo, minimum=PARALLEL_PAGES):
            out.apply(action)
        result.rendered = len(todo)

    def _write_pdfs(
        self,
        out: Output,
        loaded: Loaded,
        env: jinja2.Environment,
        progress: ProgressHook | None,
        result: BuildResult,
    ) -> None:
        """Each issue's PDF: kept when its inputs are unchanged, from the cache when
        rendered before, else laid out (several at a time)."""
        from bulletin.render.pdf import pdf_job, pdf_key
        from bulletin.render.pdfjobs import PdfCache, make_pdfs

        bulletin, theme = loaded.bulletin, loaded.theme
        store = PdfCache(self.cache / "pdf") if self.cache else None
        results: dict[str, PdfResult] = {}
        todo = []
        for issue in bulletin.issues:
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
        result.pdfs = [results[issue.id] for issue in bulletin.issues]
        result.warnings.extend(
            Problem(
                f"PDF {made.issue_id}: {message}",
                self.root / "issues" / made.issue_id,
                severity=Severity.WARNING,
            )
            for made in result.pdfs
            for message in made.warnings
        )


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

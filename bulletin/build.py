"""build(): the one entry point that the CLI, the preview server and the publisher call.

Load and validate everything first (through the parse cache); then render the pages
whose inputs changed; the output writes only changed bytes, and puts them in place
only when all of it succeeded.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2

from bulletin import __version__, uptodate
from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.load import load_bulletin
from bulletin.load.bodies import FILE as BODIES
from bulletin.load.bodies import BodyStore
from bulletin.model import Bulletin, Issue
from bulletin.parallel import run_split
from bulletin.render import fonts
from bulletin.render.pdf import PdfResult, fonts_fingerprint, pdf_job, pdf_key
from bulletin.render.pdfjobs import PdfCache, make_pdfs
from bulletin.render.site import common_context, digest, render_page, render_pages, site_pages
from bulletin.render.templates import make_environment, template_digest
from bulletin.render.theme import Theme, builtin_themes_dir, load_theme
from bulletin.schedule import Visibility, visible_bulletin
from bulletin.write.output import Output, manifest_path

ProgressHook = Callable[[str, int, int], None]  # (issue id, done, total) as PDFs finish
CACHE_DIR = ".bulletin-cache"  # inside the bulletin; deleting it never changes the output
PARALLEL_PAGES = 400  # fewer pages to render are not worth starting workers

_SOURCE_SUFFIXES = {".md", ".yaml", ".yml"}


@dataclass
class BuildResult:
    output: Path | None
    bulletin: Bulletin
    pages: list[str] = field(default_factory=list)  # every page of the site
    rendered: int = 0  # pages rendered (their inputs changed)
    written: list[str] = field(default_factory=list)  # files whose bytes changed
    deleted: list[str] = field(default_factory=list)  # files whose sources went away
    pdfs: list[PdfResult] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pdf_pages(self) -> int:
        return sum(p.pages for p in self.pdfs)


@dataclass(frozen=True)
class Loaded:
    bulletin: Bulletin  # only what is visible under the build's Visibility
    theme: Theme
    warnings: list[Problem]
    visibility: Visibility  # with `now` made time-zone aware
    boundaries: tuple[datetime, ...]  # every publish time, where visibility changes


def load(root: Path, visibility: Visibility, *, use_cache: bool = False) -> Loaded:
    """Everything a build needs, validated; raises BulletinError with all problems."""
    report = Report()
    bulletin = load_bulletin(root, report, root / CACHE_DIR if use_cache else None)
    theme = load_theme(bulletin.config, report) if bulletin else None
    report.raise_if_errors(root)
    assert bulletin is not None and theme is not None
    visibility = visibility.in_zone(bulletin.config.timezone)
    times = [i.publish_at for i in bulletin.issues] + [a.publish_at for a in bulletin.articles]
    boundaries = tuple(sorted({t for t in times if t is not None}))
    return Loaded(
        visible_bulletin(bulletin, visibility), theme, report.warnings, visibility, boundaries
    )


def check(root: Path, visibility: Visibility) -> BuildResult:
    try:
        return _check(root, visibility)
    except BulletinError as exc:
        raise exc.relative_to(root) from None


def _check(root: Path, visibility: Visibility) -> BuildResult:
    """Validate everything and render every page in memory; write nothing."""
    started = time.perf_counter()
    loaded = load(root, visibility)
    env = make_environment(loaded.theme)
    pages = [
        path for path, _ in render_pages(loaded.bulletin, env, now=loaded.visibility.now, pdf=False)
    ]
    return BuildResult(
        None,
        loaded.bulletin,
        pages,
        warnings=loaded.warnings,
        seconds=time.perf_counter() - started,
    )


def build(
    root: Path,
    output: Path,
    visibility: Visibility,
    *,
    pdf: bool = True,
    progress: ProgressHook | None = None,
    use_cache: bool = True,
) -> BuildResult:
    """Build the site (and PDFs) into `output`, which is replaced only on success."""
    try:
        return _build(root, output, visibility, pdf=pdf, progress=progress, use_cache=use_cache)
    except BulletinError as exc:
        raise exc.relative_to(root) from None


def _build(
    root: Path,
    output: Path,
    visibility: Visibility,
    *,
    pdf: bool = True,
    progress: ProgressHook | None = None,
    use_cache: bool = True,
) -> BuildResult:
    started = time.perf_counter()
    cache = root / CACHE_DIR if use_cache else None
    manifest = manifest_path(cache, output) if cache else None
    if manifest is not None:
        options = (str(output.resolve()), pdf, visibility.drafts, visibility.future)
        if pdf:
            options += (fonts_fingerprint(),)
        inputs, newest = uptodate.inputs_digest(_inputs(root), {output.resolve(), cache})
        stamp = uptodate.read(manifest.with_suffix(".stamp"))
        if stamp is not None:
            now = (
                visibility.now
                if visibility.now.tzinfo
                else visibility.in_zone(stamp.now.tzinfo).now
            )
            if uptodate.still_valid(stamp, inputs, options, now) and Output.intact(
                output, manifest
            ):
                return _replay(stamp.result, cache, started)
    loaded = load(root, visibility, use_cache=use_cache)
    bulletin, theme = loaded.bulletin, loaded.theme
    env = make_environment(theme)
    result = BuildResult(output, bulletin, warnings=list(loaded.warnings))
    out = Output(output, manifest)
    try:
        _write_pages(out, loaded, env, pdf, result)
        for name, source in theme.static_files().items():
            out.copy(f"assets/{name}", source)
        for issue in bulletin.issues:
            _copy_issue_files(issue, out)
        if pdf:
            _write_pdfs(out, loaded, env, cache, progress, result)
    except BaseException:
        out.discard()
        raise
    out.commit()
    result.written, result.deleted = out.written, out.deleted
    result.seconds = time.perf_counter() - started
    if manifest is not None:
        fields = {
            "inputs": inputs,
            "newest_input_ns": newest,
            "options": options,
            "now": loaded.visibility.now,
            "boundaries": loaded.boundaries,
            "result": result,
        }
        uptodate.write(manifest.with_suffix(".stamp"), fields)
    return result


def _inputs(root: Path) -> list[Path]:
    """Every file a build reads: the config, the issues, the bulletin's themes and the
    built-in ones."""
    return [root / "bulletin.yaml", root / "issues", root / "themes", builtin_themes_dir()]


def _replay(result: BuildResult, cache: Path, started: float) -> BuildResult:
    """The last build's result, for a build that found everything up to date."""
    store = BodyStore(cache / BODIES)
    for article in result.bulletin.articles:
        article.body.store = store
    result.rendered, result.written, result.deleted = 0, [], []
    result.seconds = time.perf_counter() - started
    return result


def _write_pages(
    out: Output, loaded: Loaded, env: jinja2.Environment, pdf: bool, result: BuildResult
) -> None:
    """Render the pages whose inputs changed; the writer keeps the bytes that did not."""
    bulletin, now = loaded.bulletin, loaded.visibility.now
    salt = digest(__version__, bulletin.config, loaded.theme.settings, pdf)
    common = common_context(bulletin, now, pdf)
    todo = []
    for page in site_pages(bulletin, now=now):
        result.pages.append(page.path)
        template = template_digest(env, page.template) if page.template else None
        key = digest(salt, page.path, template, page.inputs)
        if not out.unchanged(page.path, key):
            out.claim(page.path)
            todo.append((page, key))

    def render(share: list) -> list:
        return [out.prepare(p.path, render_page(env, p, common).encode(), k) for p, k in share]

    if todo:
        out.begin()
    for action in run_split(render, todo, minimum=PARALLEL_PAGES):
        out.apply(action)
    result.rendered = len(todo)


def _write_pdfs(
    out: Output,
    loaded: Loaded,
    env: jinja2.Environment,
    cache: Path | None,
    progress: ProgressHook | None,
    result: BuildResult,
) -> None:
    """Each issue's PDF: kept when its inputs are unchanged, from the cache when
    rendered before, else laid out (several at a time)."""
    bulletin, theme = loaded.bulletin, loaded.theme
    store = PdfCache(cache / "pdf") if cache else None
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
        _refuse_tofu([issue for issue, _ in todo], bulletin.config.root)
        with tempfile.TemporaryDirectory(prefix="bulletin-pdf-") as folder:
            jobs = [
                (pdf_job(issue, bulletin, env, theme, key), Path(folder) / f"{issue.id}.pdf")
                for issue, key in todo
            ]
            for (job, target), made in zip(jobs, make_pdfs(jobs, store, progress), strict=True):
                out.write(f"issues/{job.issue_id}/{job.issue_id}.pdf", target.read_bytes(), job.key)
                results[job.issue_id] = made
    result.pdfs = [results[issue.id] for issue in bulletin.issues]
    result.warnings.extend(
        Problem(
            f"PDF {made.issue_id}: {message}",
            loaded.bulletin.config.root / "issues" / made.issue_id,
            severity=Severity.WARNING,
        )
        for made in result.pdfs
        for message in made.warnings
    )


def _refuse_tofu(issues: list[Issue], root: Path) -> None:
    """A PDF must not print blank boxes: name each missing character and its articles."""
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
        for name in sorted(files):
            source = Path(folder, name)
            if _is_asset(source):
                relative = source.relative_to(issue.path).as_posix()
                out.copy(f"issues/{issue.id}/{relative}", source)


def _is_asset(path: Path) -> bool:
    """Not a source file, and not an editor's temp, swap or backup file."""
    name = path.name
    junk = name.startswith((".", "~", "#")) or name.endswith(("~", ".swp", ".tmp"))
    return path.suffix not in _SOURCE_SUFFIXES and not junk

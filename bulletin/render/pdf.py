"""An issue's print document -> a paginated PDF, with WeasyPrint.

The print template gets the same issue and articles as the site. Rendering the HTML
is quick and happens here; laying it out is slow (WeasyPrint), so it runs in
`pdfjobs`, in parallel and only for issues whose inputs changed. WeasyPrint only
logs missing images and stylesheets, so its log is captured and reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from bulletin import __version__
from bulletin.errors import BulletinError
from bulletin.model import Bulletin, Issue
from bulletin.render import cjk
from bulletin.render.fonts import fonts_fingerprint
from bulletin.render.templates import render_template, template_digest
from bulletin.render.theme import Theme
from bulletin.result import PdfResult

PRINT_TEMPLATE = "print.html"
PRINT_STYLESHEET = "css/print.css"


@dataclass(frozen=True)
class PdfJob:
    """Everything one worker needs to lay out one issue; picklable."""

    issue_id: str
    html: str
    base_url: str
    stylesheet: str
    key: str  # a hash of every input: equal keys give byte-identical PDFs


def print_html(issue: Issue, bulletin: Bulletin, env: jinja2.Environment) -> str:
    context = {
        "site": bulletin.config,
        "bulletin": bulletin,
        "issue": issue,
        "root": "",
        "page_path": f"issues/{issue.id}/print.html",
    }
    return render_template(env, PRINT_TEMPLATE, context)


def pdf_job(
    issue: Issue, bulletin: Bulletin, env: jinja2.Environment, theme: Theme, key: str | None = None
) -> PdfJob:
    html = print_html(issue, bulletin, env)
    stylesheet = _stylesheet(theme)
    return PdfJob(
        issue.id,
        html,
        str(issue.path) + "/",
        str(stylesheet),
        key or pdf_key(issue, bulletin, env, theme),
    )


def pdf_key(issue: Issue, bulletin: Bulletin, env: jinja2.Environment, theme: Theme) -> str:
    """Names a PDF by all it is made from, without rendering anything: the issue, the
    config, the theme's print template and stylesheet, the images, the installed fonts
    and the versions of the tools. Equal keys give byte-identical PDFs."""
    from importlib import metadata  # slow to import, and only PDFs need it

    digest = hashlib.sha1()
    parts = (
        __version__,
        metadata.version("weasyprint"),
        repr(issue),
        repr(bulletin.config),
        repr(theme.settings),
        template_digest(env, PRINT_TEMPLATE),
    )
    for part in parts:
        digest.update(part.encode() + b"\0")
    digest.update(_stylesheet(theme).read_bytes())
    for article in issue.articles:
        for image in article.images:
            path = article.path.parent / image
            stat = path.stat() if path.is_file() else None
            digest.update(f"{image}:{stat and (stat.st_size, stat.st_mtime_ns)}".encode())
    digest.update(fonts_fingerprint().encode())
    return digest.hexdigest()


def _stylesheet(theme: Theme) -> Path:
    stylesheet = theme.find_static(PRINT_STYLESHEET)
    if stylesheet is None:
        raise BulletinError.single(
            f"the theme {theme.name!r} has no static/{PRINT_STYLESHEET}",
            hint="a theme needs a print stylesheet to make PDFs",
        )
    return stylesheet


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def laid_out(job: PdfJob):
    """A print document laid out: (WeasyPrint's Document, its warnings), for the
    time of the `with` block. WeasyPrint copies the fonts of @font-face rules into a
    temporary folder that only the font configuration's `__del__` removes, and a
    reference cycle delays that, often past the end of the process (750 KB left in
    /tmp by each PDF); so the folder is removed here, once the PDF is written."""
    import weasyprint  # slow to import (~0.7 s): only where a PDF is really made
    from weasyprint.text.fonts import FontConfiguration

    cjk.install()
    font_config = FontConfiguration()
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        try:
            document = weasyprint.HTML(string=job.html, base_url=job.base_url).render(
                stylesheets=[weasyprint.CSS(filename=job.stylesheet, font_config=font_config)],
                font_config=font_config,
            )
        finally:
            logger.removeHandler(collect)
        yield document, collect.messages
    finally:
        folder = getattr(font_config, "_folder", None)  # WeasyPrint's own name for it
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def write_pdf(job: PdfJob, target: str) -> PdfResult:
    """Lay out and write one PDF; runs in a worker process."""
    with laid_out(job) as (document, warnings):
        document.write_pdf(target)
        return PdfResult(job.issue_id, len(document.pages), warnings)

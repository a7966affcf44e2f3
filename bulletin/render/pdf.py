"""An issue's print document -> a paginated PDF, with WeasyPrint.

The print template gets the same issue and articles as the site. WeasyPrint only
logs missing images and stylesheets, so its log is captured and reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from bulletin.errors import BulletinError
from bulletin.model import Bulletin, Issue
from bulletin.render import cjk
from bulletin.render.templates import render_template
from bulletin.render.theme import Theme

PRINT_TEMPLATE = "print.html"
PRINT_STYLESHEET = "css/print.css"


@dataclass
class PdfResult:
    issue: Issue
    pages: int
    warnings: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def print_html(issue: Issue, bulletin: Bulletin, env: jinja2.Environment) -> str:
    context = {
        "site": bulletin.config,
        "bulletin": bulletin,
        "issue": issue,
        "root": "",
        "page_path": f"issues/{issue.id}/print.html",
    }
    return render_template(env, PRINT_TEMPLATE, context)


def layout_pdf(issue: Issue, bulletin: Bulletin, env: jinja2.Environment, theme: Theme):
    """Lay out an issue's print document; returns WeasyPrint's Document and its warnings."""
    import weasyprint  # slow to import (~0.7 s): only when a PDF is really made
    from weasyprint.text.fonts import FontConfiguration

    stylesheet = theme.find_static(PRINT_STYLESHEET)
    if stylesheet is None:
        raise BulletinError.single(
            f"the theme {theme.name!r} has no static/{PRINT_STYLESHEET}",
            hint="a theme needs a print stylesheet to make PDFs",
        )
    cjk.install()
    html = print_html(issue, bulletin, env)
    fonts = FontConfiguration()
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        document = weasyprint.HTML(string=html, base_url=str(issue.path) + "/").render(
            stylesheets=[weasyprint.CSS(filename=str(stylesheet), font_config=fonts)],
            font_config=fonts,
        )
    finally:
        logger.removeHandler(collect)
    return document, collect.messages


def render_pdf(
    issue: Issue, bulletin: Bulletin, env: jinja2.Environment, theme: Theme, target: Path
) -> PdfResult:
    document, warnings = layout_pdf(issue, bulletin, env, theme)
    document.write_pdf(target)
    return PdfResult(issue, len(document.pages), warnings)

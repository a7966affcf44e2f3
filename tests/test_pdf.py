"""The issue PDFs, read back as a reader's tools see them (pypdf)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

pytestmark = pytest.mark.pdf

A4 = (595.28, 841.89)  # points
REFERENCE = Path(__file__).parent / "reference"
# a dotted leader, which can be as short as one dot; a decimal such as 31.5 is not one
LEADER = re.compile(r"(?:(?<=\D)\.+|\.{2,})\s*(\d+)\s*$")


def squeeze(text: str) -> str:
    """Compare text without the line breaks and spaces that layout adds."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def pdfs(sample_site, sample):
    return {i.id: (i, PdfReader(sample_site / i.pdf_url)) for i in sample.issues}


FOOTER = re.compile(r"— \d+ —")


def page_texts(reader: PdfReader) -> list[str]:
    """Each page's text without its page number, which sits mid-sentence at page breaks."""
    return [FOOTER.sub("", page.extract_text()) for page in reader.pages]


def contents_length(texts: list[str]) -> int:
    """How many pages the contents fills: up to the last page with a dotted leader."""
    return 1 + max(
        i for i, text in enumerate(texts) if any(LEADER.search(x) for x in text.splitlines())
    )


def contents_numbers(texts: list[str], titles: list[str]) -> dict[str, int]:
    """The page number the contents gives for each title (entries may wrap lines)."""
    numbers: dict[str, int] = {}
    pending = ""
    for page_text in texts[:4]:
        for line in page_text.splitlines():
            pending += line
            match = LEADER.search(pending)
            if not match:
                continue
            entry = squeeze(pending[: match.start()])
            for title in titles:
                if entry.endswith("★" + squeeze(title)):
                    numbers[title] = int(match.group(1))
            pending = ""
    return numbers


def first_page_with(texts: list[str], title: str, after: int) -> int:
    for index in range(after, len(texts)):
        if squeeze(title) in squeeze(texts[index]):
            return index + 1
    raise AssertionError(f"title {title!r} not found in the PDF")


@pytest.mark.parametrize("issue_id", ["2024-01", "2024-02"])
def test_contents_numbers_are_the_pages_where_articles_start(pdfs, issue_id):
    issue, reader = pdfs[issue_id]
    texts = page_texts(reader)
    titles = [a.title for a in issue.articles]
    numbers = contents_numbers(texts, titles)
    assert set(numbers) == set(titles), "every article is listed with a page number"
    actual = {t: first_page_with(texts, t, contents_length(texts)) for t in titles}
    assert numbers == actual
    assert list(numbers.values()) == sorted(numbers.values())


def test_a_multi_page_contents_still_numbers_right(pdfs):
    issue, reader = pdfs["2024-02"]
    texts = page_texts(reader)
    assert contents_length(texts) == 2, "the 2024-02 contents (19 articles) runs onto page 2"
    numbers = contents_numbers(texts, [a.title for a in issue.articles])
    assert min(numbers.values()) == 3


@pytest.mark.parametrize("issue_id", ["2024-01", "2024-02"])
def test_every_article_text_is_present_in_order(pdfs, issue_id):
    issue, reader = pdfs[issue_id]
    body = squeeze("".join(page_texts(reader)))
    position = 0
    for article in issue.articles:
        for paragraph in article.text.split("\n"):
            found = body.find(squeeze(paragraph), position)
            assert found >= 0, f"{article.slug}: text missing or out of order: {paragraph[:40]}"
            position = found


def test_pages_are_a4_with_bulletin_page_numbers(pdfs):
    for _issue, reader in pdfs.values():
        for number, page in enumerate(reader.pages, 1):
            box = page.mediabox
            assert (round(float(box.width), 2), round(float(box.height), 2)) == A4
            if number > 1:
                assert f"— {number} —" in page.extract_text()
        assert "— 1 —" not in reader.pages[0].extract_text()


def test_fonts_are_embedded_and_none_is_type3(pdfs):
    for _issue, reader in pdfs.values():
        fonts = {}
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                fonts[font["/BaseFont"]] = font
        assert fonts
        for name, font in fonts.items():
            assert font["/Subtype"] != "/Type3", name
            descendant = (
                font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            )
            descriptor = descendant["/FontDescriptor"].get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), name
            assert re.match(r"/[A-Z]{6}\+", name), f"{name} is not subset"


def test_metadata_and_bookmarks(pdfs):
    issue, reader = pdfs["2024-01"]
    meta = reader.metadata
    assert meta.title == "科技情报参考 2024 年第 1 期"
    assert meta.author == "呼和浩特市科学技术局综合保障中心"
    titles = [o.title for o in reader.outline if not isinstance(o, list)]
    assert titles == [a.title for a in issue.articles]


def test_masthead_and_closing_block(pdfs):
    _issue, reader = pdfs["2024-01"]
    first = reader.pages[0].extract_text()
    assert "科技情报参考" in first and "2024 年第 1 期" in first and "目" in first
    last = squeeze(reader.pages[-1].extract_text())
    assert "编辑：李涛" in last and "电话：4366683" in last and "共印60份" in last


@pytest.fixture(scope="module")
def print_theme(sample):
    """The theme and Jinja environment the sample's PDFs are made with."""
    from bulletin.errors import Report
    from bulletin.render.templates import make_environment
    from bulletin.render.theme import load_theme

    theme = load_theme(sample.config, Report())
    return theme, make_environment(theme)


@pytest.fixture(scope="module")
def layouts(sample, print_theme):
    """The sample issues laid out by WeasyPrint, to measure lines and boxes."""
    from bulletin.render.pdf import laid_out, pdf_job

    theme, env = print_theme
    documents = {}
    for issue in sample.issues:
        with laid_out(pdf_job(issue, sample, env, theme)) as (document, _):
            documents[issue.id] = document
    return documents


@pytest.mark.parametrize("issue_id", ["2024-01", "2024-02"])
def test_justified_chinese_lines_end_flush(layouts, issue_id):
    from bulletin.render.cjk import ragged_lines

    assert ragged_lines(layouts[issue_id], tolerance=1.0) == []


def test_without_the_patch_lines_would_be_ragged(sample, print_theme):
    """The measure can fail: WeasyPrint's own justification leaves Chinese ragged."""
    from weasyprint.layout import inline

    from bulletin.render.cjk import ragged_lines
    from bulletin.render.pdf import laid_out, pdf_job

    theme, env = print_theme
    issue = next(i for i in sample.issues if i.id == "2024-01")
    patched = inline.justify_line
    inline.justify_line = patched.__wrapped__
    try:
        with laid_out(pdf_job(issue, sample, env, theme)) as (document, _):
            pass
    finally:
        inline.justify_line = patched
    assert len(ragged_lines(document)) > 5


CLOSING_MARKS = set("，。、；：？！）》」』】〕〉”’…％")
OPENING_MARKS = set("（《「『【〔〈“‘")


@pytest.mark.parametrize("issue_id", ["2024-01", "2024-02"])
def test_no_closing_mark_starts_and_no_opening_mark_ends_a_line(pdfs, issue_id):
    """避头尾, read back line by line from the PDF."""
    _issue, reader = pdfs[issue_id]
    offending = []
    for number, page in enumerate(reader.pages, 1):
        for line in page.extract_text().splitlines():
            line = line.replace("\u200b", "").strip()
            if line and (line[0] in CLOSING_MARKS or line[-1] in OPENING_MARKS):
                offending.append((number, line))
    assert offending == []


def test_first_page_looks_like_the_reference(sample_site, tmp_path):
    """Page 1 (masthead and contents) against a committed image: a change in look shows.
    After an intended change, refresh it with:
    pdftoppm -r 40 -gray -png -f 1 -l 1 -singlefile site/issues/2024-01/2024-01.pdf \
        tests/reference/2024-01-page-1"""
    import subprocess

    from PIL import Image, ImageChops

    pdf = sample_site / "issues/2024-01/2024-01.pdf"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "40",
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    reference = Image.open(REFERENCE / "2024-01-page-1.png").convert("L")
    page = Image.open(tmp_path / "page.png").convert("L")
    assert page.size == reference.size
    # pixels that changed clearly (a glyph moved, a colour changed), not anti-aliasing
    changed = ImageChops.difference(page, reference).point(lambda v: 255 if v > 64 else 0)
    share = changed.histogram()[255] / (page.width * page.height)
    assert share <= 0.0005, f"{share:.2%} of page 1 differs from the reference"


def test_writing_a_pdf_removes_the_fonts_weasyprint_copied(
    sample, print_theme, tmp_path, monkeypatch
):
    """WeasyPrint copies @font-face fonts into a temporary folder and leaves its
    removal to a __del__ that a reference cycle delays: write_pdf removes it."""
    import tempfile

    from bulletin.render.pdf import pdf_job, write_pdf

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    theme, env = print_theme
    issue = next(i for i in sample.issues if i.id == "2024-01")
    write_pdf(pdf_job(issue, sample, env, theme), str(tmp_path / "issue.pdf"))
    assert (tmp_path / "issue.pdf").stat().st_size > 10_000
    assert list(temporary.glob("weasyprint-*")) == []

"""Page geometry read back from the PDF: where the words really stand (pdftotext -bbox)."""

from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = pytest.mark.pdf

MM = 72 / 25.4
LINE = re.compile(
    r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</line>', re.S
)
WORD = re.compile(r"<word[^>]*>(.*?)</word>")


def lines(pdf, page: int) -> list[tuple[float, float, float, float, str]]:
    xhtml = subprocess.run(
        ["pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (*map(float, match.groups()[:4]), "".join(WORD.findall(match.group(5))))
        for match in LINE.finditer(xhtml)
    ]


def split_number(page_lines):
    number = [line for line in page_lines if re.fullmatch(r"—\d+—", line[4])]
    body = [line for line in page_lines if line not in number]
    return body, number


@pytest.mark.parametrize("page", [3, 4, 5, 6])
def test_text_block_and_page_number_follow_gb_t_9704(sample_site, page):
    """Odd pages: binding margin 28 mm on the left; even pages: on the right. The text
    block is 156 mm wide and 225 mm high; the number sits 7 mm below it, outer side."""
    pdf = sample_site / "issues/2024-02/2024-02.pdf"
    body, number = split_number(lines(pdf, page))
    left = (28 if page % 2 else 26) * MM
    assert min(line[0] for line in body) == pytest.approx(left, abs=0.5)
    assert max(line[2] for line in body) == pytest.approx(left + 156 * MM, abs=1.5)
    assert min(line[1] for line in body) >= 37 * MM - 0.5
    assert max(line[3] for line in body) <= (37 + 225) * MM + 0.5
    [(x_min, y_min, x_max, _y_max, text)] = number
    assert text == f"—{page}—"
    # its em box starts 7 mm below the block; pdftotext reports the glyphs' ascent,
    # which for a 14 pt CJK face lies up to about 6 pt lower
    assert (37 + 225 + 7) * MM <= y_min <= (37 + 225 + 7) * MM + 6
    if page % 2:
        assert x_max == pytest.approx(left + 156 * MM - 14, abs=2)  # one character in
    else:
        assert x_min == pytest.approx(left + 14, abs=2)


def test_masthead_page_has_no_number(sample_site):
    _body, number = split_number(lines(sample_site / "issues/2024-01/2024-01.pdf", 1))
    assert number == []


def test_theme_switches_centre_numbers_and_start_articles_on_new_pages(folder, cli, tmp_path):
    folder.issue(articles={"first": "第一篇文章", "second": "第二篇文章", "third": "第三篇文章"})
    folder.write(
        "themes/default/theme.yaml",
        "print:\n  page_numbers: center\n  number_first_page: true\n  article_starts: page\n",
    )
    out = tmp_path / "out"
    assert cli("-C", folder.root, "build", "-o", out, "--now", "2024-03-01T09:00").exit_code == 0
    pdf = out / "issues/2024-01/2024-01.pdf"
    for page, title in ((2, "第一篇文章"), (3, "第二篇文章"), (4, "第三篇文章")):
        page_lines = lines(pdf, page)
        body, number = split_number(page_lines)
        assert body[0][4] == title, "each article starts a page"
        [(x_min, _y, x_max, _y2, _text)] = number
        block_centre = ((28 if page % 2 else 26) + 156 / 2) * MM  # centred under the text
        assert (x_min + x_max) / 2 == pytest.approx(block_centre, abs=2)
    assert split_number(lines(pdf, 1))[1], "the masthead page is numbered when asked"


def test_body_lines_hold_28_characters(sample_site):
    """The GB/T 9704 grid: a full line of Chinese body text is 28 characters of 16 pt."""
    pdf = sample_site / "issues/2024-02/2024-02.pdf"
    lengths = []
    for page in range(3, 20):
        body, _number = split_number(lines(pdf, page))
        for x_min, _y, x_max, _y2, text in body:
            full = x_max - x_min > 150 * MM and not re.search(r"[\x20-\x7e]", text)
            if full and x_min < 30 * MM:  # not a first line (indented) nor a heading
                lengths.append(len(text))
    assert lengths, "no full lines of Chinese found"
    assert max(set(lengths), key=lengths.count) == 28
    assert lengths.count(28) / len(lengths) > 0.6


def test_tables_figures_and_footnotes_reach_the_pdf(folder, cli, tmp_path):
    from PIL import Image
    from pypdf import PdfReader

    folder.issue()
    image = folder.root / "issues/2024-01/images/chart.png"
    image.parent.mkdir()
    Image.new("RGB", (400, 200), "#c8161d").save(image)
    article = folder.root / "issues/2024-01/first.md"
    article.write_text(
        article.read_text(encoding="utf-8")
        + "\n## 一、总体情况\n\n### （一）主要指标\n\n| 指标 | 数值 |\n|---|---|\n| 研发投入 | 3.06% |\n\n"
        "![图 1 研发投入变化](images/chart.png)\n\n据统计[^1]，增幅居全省首位。\n\n[^1]: 数据来源：市统计局。\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = cli("-C", folder.root, "build", "-o", out, "--now", "2024-03-01T09:00")
    assert result.exit_code == 0
    assert re.search(r"^\s*warnings\s+0$", result.output, re.MULTILINE), result.output
    reader = PdfReader(out / "issues/2024-01/2024-01.pdf")
    text = "".join(page.extract_text() for page in reader.pages).replace(" ", "")
    for expected in (
        "一、总体情况",
        "（一）主要指标",
        "研发投入",
        "3.06%",
        "图1研发投入变化",
        "数据来源：市统计局。",
    ):
        assert expected in text, expected
    assert any("/XObject" in page["/Resources"] for page in reader.pages), "the image is embedded"
    assert (out / "issues/2024-01/images/chart.png").is_file()

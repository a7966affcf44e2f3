"""The bad-input contract: every problem names its file and line, gives a hint, and
fails the run (errors) or not (warnings); a failed build never damages the last site."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

NOW = "2024-06-01T00:00"  # after every publish_at used here

ARTICLE = "issues/2024-01/first.md"
ISSUE = "issues/2024-01/issue.yaml"


# --- reading the CLI's output -------------------------------------------------------

_HEADER = re.compile(r"^(?:Error: )?(\S+): (error|warning): ", re.M)
_SUMMARY = re.compile(r"^(?:\d+ error\(s\), |ok: )", re.M)


@dataclass(frozen=True)
class Reported:
    where: str  # path:line as printed
    severity: str
    text: str  # message and hint, on one line (rich wraps long warnings)


def reported(output: str) -> list[Reported]:
    """Every `path:line: severity: message / hint: …` block in the CLI's output."""
    summary = _SUMMARY.search(output)
    body = output[: summary.start()] if summary else output
    heads = list(_HEADER.finditer(body))
    ends = [h.start() for h in heads[1:]] + [len(body)]
    return [
        Reported(h.group(1), h.group(2), " ".join(body[h.end() : end].split()))
        for h, end in zip(heads, ends, strict=True)
    ]


def problem_at(result, where: str, severity: str = "error") -> str:
    """The text of the one problem reported at `where`; fails if there is none."""
    found = [r.text for r in reported(result.output) if (r.where, r.severity) == (where, severity)]
    assert found, f"no {severity} at {where} in:\n{result.output}"
    return found[0]


def assert_error(result, where: str, *words: str, hint: bool = True) -> str:
    """A failed run that reports an error at `where` with a hint and all of `words`."""
    assert result.exit_code != 0, result.output
    text = problem_at(result, where)
    assert not hint or "hint:" in text, text
    for word in words:
        assert word in text, text
    return text


def assert_warning(result, where: str, *words: str) -> str:
    assert result.exit_code == 0, result.output
    text = problem_at(result, where, "warning")
    assert "hint:" in text, text
    for word in words:
        assert word in text, text
    return text


# --- running the CLI ----------------------------------------------------------------


@pytest.fixture(params=["check", "build"])
def run(request, cli, tmp_path):
    """Run `check`, or `build --no-pdf` into a fresh folder, on a bulletin."""

    def go(folder):
        if request.param == "check":
            return cli("-C", folder.root, "check", "--now", NOW)
        out = tmp_path / "out"
        return cli("-C", folder.root, "build", "--no-pdf", "--now", NOW, "-o", out)

    return go


def build(cli, folder, out: Path, *options: str):
    return cli("-C", folder.root, "build", "--no-pdf", "--now", NOW, "-o", out, *options)


def article(title: str = "第一篇文章", *, meta: str = "", body: str = "正文。\n") -> str:
    return f"---\ntitle: {title}\n{meta}---\n\n{body}"


# --- YAML syntax ----------------------------------------------------------------------


def test_invalid_yaml_in_bulletin_yaml_names_its_line(folder, run):
    folder.issue()
    folder.write(
        "bulletin.yaml",
        "title: 测试简报\ncompiler: 测试单位\neditor: 王: 编辑\nbase_url: https://example.org/\n",
    )
    assert_error(run(folder), "bulletin.yaml:3", "invalid bulletin.yaml")


def test_invalid_yaml_in_issue_yaml_names_its_line(folder, run):
    folder.issue()
    folder.write(
        ISSUE, "year: 2024\nnumber: 1\nstatus: published: yes\narticles: [first, second]\n"
    )
    assert_error(run(folder), f"{ISSUE}:3", "invalid issue.yaml")


def test_invalid_front_matter_names_the_files_line_not_the_yaml_line(folder, run):
    folder.issue()
    # Line 1 is `---`, so the bad fourth line of the file is the YAML's third.
    folder.write(ARTICLE, article(meta="source: 科技日报\nregion: 内蒙古: 包头\n"))
    assert_error(run(folder), f"{ARTICLE}:4", "invalid front matter")


# --- fields: missing, wrongly typed, unknown -----------------------------------------------


def test_article_without_title_is_an_error(folder, run):
    folder.issue()
    folder.write(ARTICLE, "---\nsource: 科技日报\n---\n\n正文。\n")
    assert_error(run(folder), f"{ARTICLE}:2", "`title`", "title: 文章标题")


def test_issue_without_year_is_an_error(folder, run):
    folder.issue()
    folder.write(ISSUE, "number: 1\nstatus: published\narticles: [first, second]\n")
    assert_error(run(folder), f"{ISSUE}:1", "`year`", "year: 2024")


def test_bulletin_without_compiler_is_an_error(folder, run):
    folder.issue()
    folder.write("bulletin.yaml", "title: 测试简报\nbase_url: https://example.org/\n")
    assert_error(run(folder), "bulletin.yaml:1", "`compiler`", "编辑单位")


def test_number_that_is_not_a_number_is_an_error(folder, run):
    folder.issue()
    folder.write(ISSUE, "year: 2024\nstatus: published\nnumber: abc\narticles: [first, second]\n")
    assert_error(run(folder), f"{ISSUE}:3", "`number`", "whole number")


MISTYPED = {"tags: 5": "must be a list", 'featured: "yes"': "must be true or false"}


@pytest.mark.parametrize(("line", "expected"), MISTYPED.items())
def test_wrongly_typed_front_matter_field_is_an_error(folder, run, line, expected):
    folder.issue()
    folder.write(ARTICLE, article(meta=f"source: 科技日报\n{line}\n"))
    assert_error(run(folder), f"{ARTICLE}:4", expected, hint=False)


@pytest.mark.parametrize(
    "line",
    [
        "tags: 5",
        'featured: "yes"',
        "date: 去年",
    ],
)
def test_wrongly_typed_front_matter_field_gets_a_hint(folder, run, line):
    folder.issue()
    folder.write(ARTICLE, article(meta=f"source: 科技日报\n{line}\n"))
    assert_error(run(folder), f"{ARTICLE}:4")


@pytest.mark.parametrize(
    ("line", "meant"), [("titel: 另一个标题", "title"), ("sumary: 摘要", "summary")]
)
def test_misspelt_field_is_a_warning_that_suggests_the_right_name(folder, cli, line, meant):
    folder.issue()
    folder.write(ARTICLE, article(meta=f"source: 科技日报\n{line}\n"))
    result = cli("-C", folder.root, "check", "--now", NOW)
    assert_warning(result, f"{ARTICLE}:4", f"did you mean `{meant}`?")


def test_misspelt_field_does_not_fail_the_build(folder, cli, tmp_path):
    folder.issue()
    folder.write(ARTICLE, article(meta="titel: 另一个标题\n"))
    result = build(cli, folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "did you mean `title`?" in " ".join(result.output.split())
    assert (tmp_path / "out" / "issues" / "2024-01" / "first.html").is_file()


# --- the articles an issue lists ------------------------------------------------------------


def test_issue_listing_a_missing_article_names_the_list_entry(folder, run):
    folder.issue()
    folder.write(
        ISSUE,
        "year: 2024\nnumber: 1\nstatus: published\narticles:\n  - first\n  - ghost\n  - second\n",
    )
    assert_error(run(folder), f"{ISSUE}:6", "'ghost'", "first, second")


def test_section_listing_a_missing_article_names_the_list_entry(folder, run):
    folder.issue()
    folder.write(
        ISSUE,
        "year: 2024\nnumber: 1\nstatus: published\nsections:\n"
        "  - title: 要闻\n    articles:\n      - first\n      - ghost\n"
        "  - title: 动态\n    articles: [second]\n",
    )
    assert_error(run(folder), f"{ISSUE}:8", "'ghost'")


def test_article_no_issue_lists_is_a_warning(folder, cli):
    folder.issue()
    folder.write("issues/2024-01/extra.md", article("多出来的文章"))
    result = cli("-C", folder.root, "check", "--now", NOW)
    assert_warning(result, "issues/2024-01/extra.md:1", "not listed", "`extra`")


def test_article_no_issue_lists_is_not_built(folder, cli, tmp_path):
    folder.issue()
    folder.write("issues/2024-01/extra.md", article("多出来的文章"))
    result = build(cli, folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "issues" / "2024-01" / "extra.html").exists()


def test_two_articles_with_the_same_slug_is_an_error(folder, run):
    folder.issue()
    folder.write(ARTICLE, article(meta="slug: same\n"))
    folder.write("issues/2024-01/second.md", article("第二篇文章", meta="slug: same\n"))
    result = run(folder)
    assert result.exit_code != 0
    [duplicate] = [r for r in reported(result.output) if "duplicate slug" in r.text]
    assert duplicate.where.startswith("issues/2024-01/second.md")
    assert "first.md" in duplicate.text and "hint:" in duplicate.text


def test_duplicate_slug_names_the_line_of_the_slug_field(folder, run):
    folder.issue()
    folder.write(ARTICLE, article(meta="slug: same\n"))
    folder.write(
        "issues/2024-01/second.md", article("第二篇文章", meta="source: 新华社\nslug: same\n")
    )
    assert_error(run(folder), "issues/2024-01/second.md:4", "duplicate slug 'same'")


def test_two_issues_with_the_same_year_and_number_is_an_error(folder, run):
    folder.issue("2024-01")
    folder.issue("2024-02")
    folder.write(
        "issues/2024-02/issue.yaml",
        "year: 2024\nnumber: 1\nstatus: published\narticles: [first, second]\n",
    )
    result = run(folder)
    assert result.exit_code != 0
    [twice] = [r for r in reported(result.output) if "two issues are" in r.text]
    assert twice.where.startswith("issues/2024-02/issue.yaml")
    assert "2024 年第 1 期" in twice.text and "2024-01" in twice.text and "hint:" in twice.text


def test_duplicate_issue_number_names_the_line_of_number(folder, run):
    folder.issue("2024-01")
    folder.issue("2024-02")
    folder.write(
        "issues/2024-02/issue.yaml",
        "year: 2024\nstatus: published\nnumber: 1\narticles: [first, second]\n",
    )
    assert_error(run(folder), "issues/2024-02/issue.yaml:3", "two issues are")


def test_scheduled_issue_without_publish_at_is_an_error(folder, run):
    folder.issue()
    folder.write(ISSUE, "year: 2024\nnumber: 1\nstatus: scheduled\narticles: [first, second]\n")
    assert_error(run(folder), f"{ISSUE}:3", "publish_at")


# --- themes and templates ----------------------------------------------------------------


def test_unknown_theme_is_an_error_listing_the_available_themes(folder, run):
    folder.issue()
    folder.write(
        "bulletin.yaml", folder.root.joinpath("bulletin.yaml").read_text() + "theme: nosuch\n"
    )
    result = run(folder)
    assert result.exit_code != 0
    [theme] = [r for r in reported(result.output) if "unknown theme 'nosuch'" in r.text]
    assert theme.where.startswith("bulletin.yaml")
    assert "available themes: default" in theme.text


def test_unknown_theme_names_the_line_of_theme(folder, run):
    folder.issue()
    folder.write(
        "bulletin.yaml", folder.root.joinpath("bulletin.yaml").read_text() + "theme: nosuch\n"
    )
    assert_error(run(folder), "bulletin.yaml:6", "unknown theme")


TEMPLATE = "themes/default/templates/article.html"
BROKEN_TEMPLATES = {
    "syntax": "<html>\n<body>\n{% if %}\n</body>\n</html>\n",
    "undefined": "<html>\n<body>\n{{ nope }}\n</body>\n</html>\n",
}


def the_one_error(result) -> Reported:
    assert result.exit_code != 0, result.output
    [error] = [r for r in reported(result.output) if r.severity == "error"]
    return error


@pytest.mark.parametrize("kind", BROKEN_TEMPLATES)
def test_template_error_is_reported_at_the_templates_line(folder, run, kind):
    folder.issue()
    folder.write(TEMPLATE, BROKEN_TEMPLATES[kind])
    error = the_one_error(run(folder))
    assert error.where.endswith(f"{TEMPLATE}:3"), error


def test_undefined_template_variable_names_the_variable_and_hints(folder, run):
    folder.issue()
    folder.write(TEMPLATE, BROKEN_TEMPLATES["undefined"])
    error = the_one_error(run(folder))
    assert "'nope' is undefined" in error.text and "hint:" in error.text


def test_template_syntax_error_gives_a_hint(folder, run):
    folder.issue()
    folder.write(TEMPLATE, BROKEN_TEMPLATES["syntax"])
    assert "hint:" in the_one_error(run(folder)).text


@pytest.mark.parametrize("kind", BROKEN_TEMPLATES)
def test_template_error_names_the_template_relative_to_the_bulletin(folder, run, kind):
    folder.issue()
    folder.write(TEMPLATE, BROKEN_TEMPLATES[kind])
    assert the_one_error(run(folder)).where == f"{TEMPLATE}:3"


# --- encodings ------------------------------------------------------------------------------


def test_file_that_is_not_utf8_is_an_error_naming_it(folder, run):
    folder.issue()
    folder.write(ARTICLE, article("国内科技动态").encode("gbk"))
    assert_error(run(folder), f"{ARTICLE}:2", "not UTF-8", "UTF-8")


def test_bom_and_crlf_are_fine(folder, cli, tmp_path):
    folder.issue()
    crlf = article("带BOM的标题", meta="source: 科技日报\n").replace("\n", "\r\n")
    folder.write(ARTICLE, "\ufeff".encode() + crlf.encode())
    issue = folder.root / ISSUE
    folder.write(ISSUE, b"\xef\xbb\xbf" + issue.read_bytes().replace(b"\n", b"\r\n"))
    result = build(cli, folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "issues" / "2024-01" / "first.html").read_text(encoding="utf-8")
    assert "<h1>带BOM的标题</h1>" in page
    assert "来源：科技日报</span>" in page


# --- images ----------------------------------------------------------------------------------


def test_missing_image_is_an_error_with_its_line(folder, run):
    folder.issue()
    folder.write(ARTICLE, article(body="第一段。\n\n第二段。\n\n![图](images/none.png)\n"))
    assert_error(run(folder), f"{ARTICLE}:9", "images/none.png")


def test_present_image_is_copied_beside_the_article(folder, cli, tmp_path):
    folder.issue()
    folder.write(ARTICLE, article(body="![图](images/one.png)\n"))
    folder.write("issues/2024-01/images/one.png", b"\x89PNG fake")
    result = build(cli, folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    copied = tmp_path / "out" / "issues" / "2024-01" / "images" / "one.png"
    assert copied.read_bytes() == b"\x89PNG fake"


# --- all at once --------------------------------------------------------------------------


def test_every_problem_is_reported_in_one_run(folder, run):
    folder.issue()
    config = folder.root.joinpath("bulletin.yaml").read_text()
    folder.write("bulletin.yaml", config + "copies: many\n")
    folder.write(
        ISSUE, "year: 2024\nnumber: 1\nserial: abc\nstatus: published\narticles: [first, second]\n"
    )
    folder.write("issues/2024-01/second.md", article("第二篇", meta='featured: "yes"\n'))
    result = run(folder)
    assert result.exit_code != 0
    assert_error(result, "bulletin.yaml:6", "`copies`")
    assert_error(result, f"{ISSUE}:3", "`serial`")
    assert_error(result, "issues/2024-01/second.md:3", "`featured`")
    assert "3 error(s)" in result.output


# --- the output folder ------------------------------------------------------------------------


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.parametrize("breakage", ["article", "template"])
def test_failed_build_leaves_the_previous_site_untouched(folder, cli, tmp_path, breakage):
    folder.issue()
    out = tmp_path / "out"
    assert build(cli, folder, out).exit_code == 0
    before = (out / "index.html").read_bytes()
    folder.write(ISSUE, folder.root.joinpath(ISSUE).read_text() + "editor_note: 新的编者按\n")
    if breakage == "article":
        folder.write(ARTICLE, article(meta="tags: 5\n"))
    else:  # fails while pages are written, after the staging folder exists
        folder.write(TEMPLATE, BROKEN_TEMPLATES["undefined"])
    result = build(cli, folder, out)
    assert result.exit_code != 0
    assert (out / "index.html").read_bytes() == before
    assert leftovers(out) == []


def test_successful_rebuild_replaces_the_site_and_leaves_nothing_beside_it(folder, cli, tmp_path):
    folder.issue()
    out = tmp_path / "out"
    assert build(cli, folder, out).exit_code == 0
    folder.write(ARTICLE, article("改过的标题"))
    assert build(cli, folder, out).exit_code == 0
    assert "改过的标题" in (out / "issues" / "2024-01" / "first.html").read_text(encoding="utf-8")
    assert leftovers(out) == []


def test_build_refuses_to_replace_a_folder_it_did_not_make(folder, cli, tmp_path):
    folder.issue()
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    result = build(cli, folder, out)
    assert result.exit_code != 0
    assert "refusing to replace" in result.output and "hint:" in result.output
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]
    assert (out / "thesis.docx").read_bytes() == b"precious"
    assert leftovers(out) == []


# --- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["front matter", "bulletin.yaml"])
def test_yaml_is_safe_loaded(folder, run, tmp_path, where):
    folder.issue()
    proof = tmp_path / "pwned"
    payload = f'!!python/object/apply:os.system ["touch {proof}"]'
    if where == "front matter":
        folder.write(ARTICLE, f"---\ntitle: {payload}\n---\n\n正文。\n")
        at = f"{ARTICLE}:2"
    else:
        folder.write(
            "bulletin.yaml", f"compiler: 单位\nbase_url: https://e.org/\ntitle: {payload}\n"
        )
        at = "bulletin.yaml:3"
    assert_error(run(folder), at, "python/object/apply")
    assert not proof.exists()


RAW_HTML = '第一段。\n\n<span class="raw-html">原样</span>\n'


def article_page(out: Path) -> str:
    return (out / "issues" / "2024-01" / "first.html").read_text(encoding="utf-8")


def test_raw_html_is_escaped_by_default(folder, cli, tmp_path):
    folder.issue()
    folder.write(ARTICLE, article(body=RAW_HTML))
    assert build(cli, folder, tmp_path / "out").exit_code == 0
    page = article_page(tmp_path / "out")
    assert '<span class="raw-html">' not in page
    assert "&lt;span class=&quot;raw-html&quot;&gt;原样&lt;/span&gt;" in page


def test_raw_html_is_let_through_with_allow_html(folder, cli, tmp_path):
    folder.issue()
    folder.write(
        "bulletin.yaml", folder.root.joinpath("bulletin.yaml").read_text() + "allow_html: true\n"
    )
    folder.write(ARTICLE, article(body=RAW_HTML))
    assert build(cli, folder, tmp_path / "out").exit_code == 0
    assert '<span class="raw-html">原样</span>' in article_page(tmp_path / "out")


class _Urls(HTMLParser):
    """Every URL-valued attribute of a page, entities decoded as a browser would."""

    ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "poster", "data"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value or "" for name, value in attrs if name in self.ATTRIBUTES]

    handle_startendtag = handle_starttag


def script_urls(out: Path) -> list[str]:
    """URLs in any built HTML file that a browser would run as script."""
    found = []
    for page in sorted(out.rglob("*.html")):
        parser = _Urls()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            squeezed = re.sub(r"[\x00-\x20]+", "", url).lower()
            if squeezed.startswith(("javascript:", "vbscript:")):
                found.append(f"{page.relative_to(out)}: {url}")
    return found


SCRIPT_LINKS = (
    "[甲](javascript:alert(1))\n\n"
    "[乙](jav&#x61;script:alert(2))\n\n"
    '文中<a href="javascript:alert(3)">丙</a>链接\n\n'
    '文中<a href="jav&#x61;script:alert(4)">丁</a>链接\n\n'
    '<div>\n<a href="javascript:alert(5)">戊</a>\n</div>\n'
)


@pytest.mark.parametrize("allow_html", [False, True])
def test_javascript_links_never_reach_the_site(folder, cli, tmp_path, allow_html):
    folder.issue()
    if allow_html:
        config = folder.root.joinpath("bulletin.yaml").read_text()
        folder.write("bulletin.yaml", config + "allow_html: true\n")
    folder.write(ARTICLE, article(body=SCRIPT_LINKS))
    assert build(cli, folder, tmp_path / "out").exit_code == 0
    assert "戊" in article_page(tmp_path / "out")  # the article was built
    assert script_urls(tmp_path / "out") == []


def test_javascript_link_after_a_slash_never_reaches_the_site(folder, cli, tmp_path):
    folder.issue()
    config = folder.root.joinpath("bulletin.yaml").read_text()
    folder.write("bulletin.yaml", config + "allow_html: true\n")
    folder.write(ARTICLE, article(body='<div>\n<a/href="javascript:alert(6)">己</a>\n</div>\n'))
    assert build(cli, folder, tmp_path / "out").exit_code == 0
    assert "己" in article_page(tmp_path / "out")
    assert script_urls(tmp_path / "out") == []

"""The PDF cache is an optimisation only: it never changes what a build writes."""

from __future__ import annotations

import filecmp
import shutil

import pytest

from tests.test_incremental import age_inputs

pytestmark = pytest.mark.pdf

NOW = "2024-03-01T09:00"


def tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def pdf_summary(output: str) -> str:
    return next(line for line in output.splitlines() if "PDFs" in line)


@pytest.fixture
def two_issues(folder):
    folder.issue("2024-01")
    folder.issue("2024-02", articles={"third": "第三篇文章"})
    return folder


def test_output_is_the_same_with_and_without_the_cache(two_issues, cli, tmp_path):
    root = two_issues.root
    assert cli("-C", root, "build", "-o", tmp_path / "a", "--now", NOW).exit_code == 0
    cached = cli("-C", root, "build", "-o", tmp_path / "b", "--now", NOW)
    assert "2 unchanged" in pdf_summary(cached.output)
    fresh = cli("-C", root, "build", "-o", tmp_path / "c", "--now", NOW, "--no-cache")
    assert "0 unchanged" in pdf_summary(fresh.output)
    assert tree(tmp_path / "a") == tree(tmp_path / "b") == tree(tmp_path / "c")
    shutil.rmtree(root / ".bulletin-cache")
    assert cli("-C", root, "build", "-o", tmp_path / "d", "--now", NOW).exit_code == 0
    assert tree(tmp_path / "d") == tree(tmp_path / "a")


def test_only_the_changed_issue_is_rendered_again(two_issues, cli, tmp_path):
    root = two_issues.root
    cli("-C", root, "build", "-o", tmp_path / "a", "--now", NOW)
    article = root / "issues/2024-02/third.md"
    article.write_text(article.read_text(encoding="utf-8") + "\n新增的一段。\n", encoding="utf-8")
    result = cli("-C", root, "build", "-o", tmp_path / "b", "--now", NOW)
    assert "1 unchanged" in pdf_summary(result.output)
    a, b = tmp_path / "a/issues", tmp_path / "b/issues"
    assert filecmp.cmp(a / "2024-01/2024-01.pdf", b / "2024-01/2024-01.pdf", shallow=False)
    assert not filecmp.cmp(a / "2024-02/2024-02.pdf", b / "2024-02/2024-02.pdf", shallow=False)


def test_an_edit_of_text_lays_out_only_its_issue_again_in_the_same_output(
    two_issues, cli, tmp_path
):
    root, out = two_issues.root, tmp_path / "site"
    age_inputs(two_issues)  # saved a while ago: only the folder edited next counts as edited
    assert cli("-C", root, "build", "-o", out, "--now", NOW).exit_code == 0
    pdfs = {p.name: p.stat().st_mtime_ns for p in out.glob("issues/*/*.pdf")}
    article = root / "issues/2024-02/third.md"
    article.write_text(article.read_text(encoding="utf-8") + "\n新增的一段。\n", encoding="utf-8")
    result = cli("-C", root, "build", "-o", out, "--now", NOW)
    assert "2 (" in pdf_summary(result.output) and "1 unchanged" in pdf_summary(result.output)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("issues/*/*.pdf")}
    assert after["2024-01.pdf"] == pdfs["2024-01.pdf"]
    assert after["2024-02.pdf"] != pdfs["2024-02.pdf"]
    fresh = cli("-C", root, "build", "-o", tmp_path / "fresh", "--now", NOW, "--no-cache")
    assert fresh.exit_code == 0
    assert tree(out) == tree(tmp_path / "fresh")


def test_a_build_skipped_whole_lays_out_no_pdf(two_issues, cli, tmp_path):
    root, out = two_issues.root, tmp_path / "site"
    age_inputs(two_issues)
    first = cli("-C", root, "build", "-o", out, "--now", NOW)
    assert "0 unchanged" in pdf_summary(first.output)
    again = cli("-C", root, "build", "-o", out, "--now", NOW)
    assert "(0 written" in again.output, "nothing changed: the build is skipped"
    assert "2 (" in pdf_summary(again.output) and "2 unchanged" in pdf_summary(again.output)


@pytest.mark.parametrize("damage", ["truncate-pdf", "truncate-json", "delete-pdf"])
def test_a_damaged_cache_entry_is_rendered_again(two_issues, cli, tmp_path, damage):
    root = two_issues.root
    cli("-C", root, "build", "-o", tmp_path / "a", "--now", NOW)
    cache = root / ".bulletin-cache/pdf"
    pdf = sorted(cache.glob("*.pdf"))[0]
    meta = pdf.with_suffix(".json")
    if damage == "truncate-pdf":
        pdf.write_bytes(pdf.read_bytes()[:100])
    elif damage == "truncate-json":
        meta.write_text(meta.read_text()[:10])
    else:
        pdf.unlink()
    result = cli("-C", root, "build", "-o", tmp_path / "b", "--now", NOW)
    assert result.exit_code == 0
    assert "1 unchanged" in pdf_summary(result.output)
    assert tree(tmp_path / "b") == tree(tmp_path / "a")

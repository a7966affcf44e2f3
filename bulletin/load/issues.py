"""issues/<id>/issue.yaml (+ the article files it lists) -> Issue."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from bulletin.errors import Report
from bulletin.load.articles import SLUG, load_article
from bulletin.load.fields import (
    Field,
    a_date,
    check_fields,
    integer,
    moment,
    non_empty_text,
    one_of,
    positive_integer,
    text,
    text_list,
)
from bulletin.load.parsecache import ParseCache
from bulletin.load.yamlfile import YamlDoc, key_line, read_yaml
from bulletin.model import STATUSES, Article, Config, Correction, Issue, Section

ISSUE_FILE = "issue.yaml"


def issue_fields(config: Config) -> dict[str, Field]:
    return {
        "year": Field(integer, required=True, hint="the year of the issue, e.g. year: 2024"),
        "number": Field(positive_integer, required=True, hint="the number within the year"),
        "serial": Field(positive_integer, hint="the running number (总第 N 期)"),
        "status": Field(one_of(*STATUSES), required=True, hint="draft, scheduled or published"),
        "publish_at": Field(moment(config.timezone), hint="e.g. 2024-01-15 09:00"),
        "editor_note": Field(text),
        "articles": Field(text_list, hint="the article file names, in order"),
        "sections": Field(_sections, hint="a list of {title: …, articles: […]}"),
        "corrections": Field(
            _corrections, hint="a list of {date: 2024-03-02, text: 更正……, article: file-name}"
        ),
    }


def _sections(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        raise ValueError("must be a list of entries with `title:` and `articles:`")
    return value


def _corrections(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ValueError("must be a list of entries with `date:` and `text:`")
    return value


CORRECTION_FIELDS = {
    "date": Field(a_date, required=True, hint="the day of the correction, e.g. date: 2024-03-02"),
    "text": Field(non_empty_text, required=True, hint="what was wrong and what is right"),
    "article": Field(non_empty_text, hint="the corrected article's file name, without .md"),
}

SECTION_FIELDS = {
    "title": Field(non_empty_text, required=True, hint="the section's title (栏目名)"),
    "articles": Field(text_list, required=True, hint="the article file names, in order"),
}


def load_issue(
    folder: Path, config: Config, report: Report, cache: ParseCache | None = None
) -> Issue | None:
    path = folder / ISSUE_FILE
    doc = cache.yaml(path, report, ISSUE_FILE) if cache else read_yaml(path, report, ISSUE_FILE)
    if not doc:
        return None
    values = check_fields(doc, issue_fields(config), report, what=ISSUE_FILE)
    issue_id = folder.name
    if not SLUG.match(issue_id):
        report.error(
            f"issue folder name {issue_id!r} cannot be a URL", folder, hint="name it like 2024-01"
        )
    if values.get("status") == "scheduled" and "publish_at" not in values:
        report.error(
            "a scheduled issue needs `publish_at`",
            path,
            doc.line_of("status"),
            hint="add e.g. `publish_at: 2024-02-01 09:00`",
        )
    sections = _load_sections(doc, values, issue_id, config, report, cache)
    if sections is None or not {"year", "number", "status"} <= values.keys():
        return None
    return Issue(
        id=issue_id,
        path=folder,
        year=values["year"],
        number=values["number"],
        serial=values.get("serial"),
        status=values["status"],
        publish_at=values.get("publish_at"),
        editor_note=values.get("editor_note", ""),
        sections=sections,
        corrections=_load_corrections(doc, values, sections, report),
    )


def _load_corrections(
    doc: YamlDoc, values: dict, sections: tuple[Section, ...], report: Report
) -> tuple[Correction, ...]:
    """The corrections (更正) of an issue that is out; each may name one of its articles."""
    slugs = {a.path.stem: a.slug for s in sections for a in s.articles}
    slugs |= {slug: slug for slug in slugs.values()}
    corrections = []
    for index, raw in enumerate(values.get("corrections", ())):
        keys = ("corrections", index)
        entry = check_fields(doc, CORRECTION_FIELDS, report, what="correction", data=raw, keys=keys)
        name = entry.get("article", "").removesuffix(".md")
        if name and name not in slugs:
            report.error(
                f"the correction names article {name!r}, which this issue does not list",
                doc.path,
                doc.line_of(*keys, "article"),
                hint=f"articles of this issue: {', '.join(sorted(slugs)) or 'none'}",
            )
            continue
        if {"date", "text"} <= entry.keys():
            corrections.append(Correction(entry["date"], entry["text"], slugs.get(name, "")))
    return tuple(corrections)


def _load_sections(
    doc: YamlDoc,
    values: dict,
    issue_id: str,
    config: Config,
    report: Report,
    cache: ParseCache | None = None,
) -> tuple[Section, ...] | None:
    """Both layouts (a flat `articles:` list or `sections:`) become a tuple of sections."""
    if ("articles" in values) == ("sections" in values):
        report.error(
            "an issue lists its articles either under `articles:` or under `sections:`"
            + (", not both" if "articles" in values else ""),
            doc.path,
            doc.line_of("sections") if "sections" in values else doc.first_line,
            hint="articles: [file-name-1, file-name-2]",
        )
        return None
    if "articles" in values:
        groups = [("", values["articles"], ("articles",))]
    else:
        groups = []
        for index, raw in enumerate(values["sections"]):
            keys = ("sections", index)
            section = check_fields(doc, SECTION_FIELDS, report, what="section", data=raw, keys=keys)
            groups.append(
                (section.get("title", ""), section.get("articles", ()), (*keys, "articles"))
            )
    seen: set[str] = set()
    sections = []
    for title, names, keys in groups:
        articles = []
        for position, name in enumerate(names):
            # line numbers cost a YAML compose: looked up only for a problem
            def line(keys=keys, position=position) -> int:
                return doc.line_of(*keys, position)

            stem = name.removesuffix(".md")
            if stem in seen:
                report.error(f"article {stem!r} is listed twice", doc.path, line())
                continue
            seen.add(stem)
            article = _load_listed(doc.path.parent, stem, line, issue_id, config, report, cache)
            if article:
                articles.append(article)
        sections.append(Section(title, tuple(articles)))
    _check_slugs(sections, report)
    _warn_unlisted(doc, seen, report)
    return tuple(sections)


def _load_listed(folder, stem, line, issue_id, config, report, cache) -> Article | None:
    path = folder / f"{stem}.md"
    if cache is not None and cache.knows(path):
        return cache.article(path, issue_id, config, report)
    if not path.is_file():
        candidates = sorted(p.stem for p in folder.glob("*.md"))
        close = difflib.get_close_matches(stem, candidates, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`?" if close else None
        report.error(
            f"the issue lists article {stem!r} but {path.name} does not exist",
            folder / ISSUE_FILE,
            line(),
            hint=hint or f"articles in this folder: {', '.join(candidates) or 'none'}",
        )
        return None
    if cache is None:
        return load_article(path, issue_id, config, report)
    return cache.article(path, issue_id, config, report)


def _check_slugs(sections: list[Section], report: Report) -> None:
    owners: dict[str, Article] = {}
    for article in (a for s in sections for a in s.articles):
        other = owners.setdefault(article.slug, article)
        if other is not article:
            report.error(
                f"duplicate slug {article.slug!r}: {other.path.name} has it too",
                article.path,
                key_line(article.path, "slug"),
                hint="give one of them another `slug:` (it is the page's URL)",
            )


def _warn_unlisted(doc: YamlDoc, listed: set[str], report: Report) -> None:
    names = sorted(e.name for e in os.scandir(doc.path.parent) if e.name.endswith(".md"))
    for path in (doc.path.parent / name for name in names if name[:-3] not in listed):
        report.warn(
            f"article {path.name} is not listed in {ISSUE_FILE}, so it is not published",
            path,
            1,
            hint=f"add `{path.stem}` to the issue's articles, or move the file away",
        )

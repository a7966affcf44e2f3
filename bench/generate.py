"""Write a synthetic bulletin of N articles for benchmarks (deterministic for a seed).

Paragraphs are sampled from the raw documents in seeds/, so the text is realistic
Chinese; articles come in issues of 8, twelve issues a year, with tags and regions.
The same content can also be written in the layouts Hugo and Pelican read, so the
tools can be compared on identical input.

    python bench/generate.py OUT --articles 1000 [--seed 1] [--hugo DIR] [--pelican DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_ISSUE = 8
TAGS = [
    "科技创新",
    "成果转化",
    "人才",
    "高新区",
    "产业发展",
    "数字经济",
    "人工智能",
    "国际合作",
    "科技企业",
    "创新平台",
    "体制改革",
    "区域协同",
]
REGIONS = ["内蒙古", "四川", "宁夏", "浙江", "山东", "甘肃", "广东", "江苏", "河南", "辽宁"]
CONFIG = """\
title: 科技情报参考
compiler: 呼和浩特市科学技术局综合保障中心
editor: 李涛
phone: "4366683"
base_url: https://example.org/kjqbck/
"""


@dataclass(frozen=True)
class Article:
    issue_id: str
    stem: str
    title: str
    region: str
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]
    date: str


def quoted(text: str) -> str:
    """A YAML string that survives any quotes the seed text holds."""
    return json.dumps(text, ensure_ascii=False)


def seed_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = re.sub(r"\s+", "", block).lstrip("#-★")
            if len(text) >= 40 and not text.startswith(("编辑", "电话")):
                paragraphs.append(text)
    return paragraphs


def articles(count: int, seed: int, per_issue: int = PER_ISSUE) -> list[Article]:
    rng = random.Random(seed)
    paragraphs = seed_paragraphs()
    result = []
    issues = -(-count // per_issue)
    first_year = 2025 - (issues - 1) // 12  # the last issue comes out in 2025: none lies ahead
    for index in range(count):
        number = index // per_issue
        year, month = first_year + number // 12, number % 12 + 1
        body = tuple(rng.sample(paragraphs, rng.randint(4, 9)))
        head = re.split(r"[，。；：、]", body[0])[0][:24]
        result.append(
            Article(
                issue_id=f"{year}-{month:02d}",
                stem=f"article-{index:05d}",
                title=f"{rng.choice(REGIONS)}：{head}",
                region=rng.choice(REGIONS),
                tags=tuple(rng.sample(TAGS, 2)),
                paragraphs=body,
                date=f"{year}-{month:02d}-15",
            )
        )
    return result


def write_bulletin(out: Path, items: list[Article]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bulletin.yaml").write_text(CONFIG, encoding="utf-8")
    issues: dict[str, list[Article]] = {}
    for article in items:
        issues.setdefault(article.issue_id, []).append(article)
    for issue_id, members in issues.items():
        folder = out / "issues" / issue_id
        folder.mkdir(parents=True, exist_ok=True)
        year, number = issue_id.split("-")
        listing = "".join(f"  - {a.stem}\n" for a in members)
        (folder / "issue.yaml").write_text(
            f"year: {year}\nnumber: {int(number)}\nstatus: published\n"
            f"publish_at: {members[0].date} 09:00\narticles:\n{listing}",
            encoding="utf-8",
        )
        for a in members:
            (folder / f"{a.stem}.md").write_text(
                f"---\ntitle: {quoted(a.title)}\nsource: 科技日报\nregion: {a.region}\n"
                f"tags: [{', '.join(a.tags)}]\ndate: {a.date}\n---\n\n"
                + "\n\n".join(a.paragraphs)
                + "\n",
                encoding="utf-8",
            )


def write_hugo(out: Path, items: list[Article]) -> None:
    """content/posts/*.md with YAML front matter and the most trivial layouts."""
    posts = out / "content" / "posts"
    posts.mkdir(parents=True, exist_ok=True)
    (out / "hugo.yaml").write_text(
        "baseURL: https://example.org/kjqbck/\nlanguageCode: zh-cn\ntitle: 科技情报参考\n"
        "buildFuture: true\ndisableKinds: [RSS, sitemap]\n",
        encoding="utf-8",
    )
    layouts = out / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (layouts / "single.html").write_text(
        "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>{{ .Content }}\n"
    )
    (layouts / "list.html").write_text(
        "<!doctype html><title>{{ .Title }}</title>"
        '<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>\n'
    )
    for a in items:
        (posts / f"{a.stem}.md").write_text(
            f"---\ntitle: {quoted(a.title)}\ndate: {a.date}\ntags: [{', '.join(a.tags)}]\n---\n\n"
            + "\n\n".join(a.paragraphs)
            + "\n",
            encoding="utf-8",
        )


def write_pelican(out: Path, items: list[Article]) -> None:
    """content/*.md with `Key: value` headers, for Pelican's default theme."""
    content = out / "content"
    content.mkdir(parents=True, exist_ok=True)
    (out / "pelicanconf.py").write_text(
        "AUTHOR = '李涛'\nSITENAME = '科技情报参考'\nSITEURL = ''\nPATH = 'content'\n"
        "TIMEZONE = 'Asia/Shanghai'\nDEFAULT_LANG = 'zh'\nFEED_ALL_ATOM = None\n"
        "CATEGORY_FEED_ATOM = None\nTRANSLATION_FEED_ATOM = None\nAUTHOR_FEED_ATOM = None\n"
        "AUTHOR_FEED_RSS = None\nDEFAULT_PAGINATION = False\n",
        encoding="utf-8",
    )
    for a in items:
        (content / f"{a.stem}.md").write_text(
            f"Title: {a.title}\nDate: {a.date}\nTags: {', '.join(a.tags)}\nSlug: {a.stem}\n\n"
            + "\n\n".join(a.paragraphs)
            + "\n",
            encoding="utf-8",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the bulletin")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-issue", type=int, default=PER_ISSUE, help="articles per issue")
    parser.add_argument("--hugo", type=Path, help="also write the Hugo layout here")
    parser.add_argument("--pelican", type=Path, help="also write the Pelican layout here")
    args = parser.parse_args()
    items = articles(args.articles, args.seed, args.per_issue)
    write_bulletin(args.out, items)
    if args.hugo:
        write_hugo(args.hugo, items)
    if args.pelican:
        write_pelican(args.pelican, items)
    issues = len({a.issue_id for a in items})
    print(f"wrote {len(items)} articles in {issues} issues to {args.out}")


if __name__ == "__main__":
    main()

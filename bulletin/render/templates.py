"""The Jinja environment over a theme, and template errors reported as template:line."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe

from bulletin.errors import BulletinError, Problem
from bulletin.render import cjk
from bulletin.render.theme import Theme


def make_environment(theme: Theme, compiled: Path | None = None) -> jinja2.Environment:
    """The environment of a theme; with `compiled`, a folder where Jinja keeps the
    templates it compiled (checked against the source), for the next process."""
    options = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True}
    cache = None
    if compiled:  # compiled code depends on the options too: one folder per set of them
        folder = compiled / hashlib.sha1(repr((jinja2.__version__, options)).encode()).hexdigest()
        folder.mkdir(parents=True, exist_ok=True)
        cache = jinja2.FileSystemBytecodeCache(str(folder))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in theme.template_dirs]),
        bytecode_cache=cache,
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        **options,
    )
    env.filters["zh_date"] = zh_date
    env.filters["iso"] = lambda value: value.isoformat()
    env.filters["cjk_print"] = lambda html: markupsafe.Markup(cjk.print_text(str(html)))
    env.filters["phrases"] = cjk.title_phrases
    env.filters["css_string"] = css_string
    env.globals["url"] = url
    env.globals["theme"] = theme.settings
    return env


@jinja2.pass_context
def url(context: jinja2.runtime.Context, target: str) -> str:
    """A link relative to the page being rendered, so the site works from any folder
    and from file://; `target` is a path from the site's root. Feeds and sitemaps
    set `root` to the base URL and get absolute links instead."""
    root = context["root"]
    if root.startswith(("http://", "https://")):
        return root + _quoted(target)
    return relative_url(target, context["page_path"].rpartition("/")[0])


# by folder, not by page: the pages of one issue link the same places (a cold build
# of 8,000 articles asks for 220,000 links, of about 50,000 kinds)
@functools.lru_cache(maxsize=1 << 15)
def relative_url(target: str, folder: str) -> str:
    """The quoted path from `folder` to `target` (both from the site root)."""
    path, hash_, fragment = target.partition("#")
    if not path:
        return hash_ + quote(fragment)
    steps = folder.split("/") if folder else []
    parts = path.split("/")
    common = 0
    while common < min(len(steps), len(parts) - 1) and steps[common] == parts[common]:
        common += 1
    relative = "../" * (len(steps) - common) + "/".join(parts[common:])
    return _quoted(relative or ".") + hash_ + quote(fragment)


@functools.lru_cache(maxsize=4096)
def _quoted(path: str) -> str:
    return quote(path, safe="/#")


def css_string(value: str) -> markupsafe.Markup:
    """A quoted CSS string, safe inside a <style> element (where HTML escapes do not apply)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return markupsafe.Markup(f'"{escaped}"')


def zh_date(value: date | datetime, with_time: bool = False) -> str:
    text = f"{value.year} 年 {value.month} 月 {value.day} 日"
    if with_time and isinstance(value, datetime):
        text += f" {value:%H:%M}"
    return text


_REFERENCE = re.compile(r"""{%-?\s*(?:extends|include|import|from)\s+(?:(["'])(.*?)\1)?""")


def template_digest(env: jinja2.Environment, name: str) -> str:
    """A digest of a template and of every template it extends, includes or imports,
    so that a page is rendered again exactly when one of them changed. References are
    found by a scan for literal names (parsing every template was slower than the
    rest of a no-op rebuild); a reference that is not a literal counts as all."""
    cache = env.__dict__.setdefault("bulletin_template_digests", {})
    if name not in cache:
        digest = hashlib.sha1()
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            with template_errors(env, current):
                source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
            digest.update(f"{current}\0{filename}\0{source}\0".encode())
            for _quote, referenced in _REFERENCE.findall(source):
                todo.extend([referenced] if referenced else env.list_templates())
        cache[name] = digest.hexdigest()
    return cache[name]


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    with template_errors(env, name):
        return env.get_template(name).render(context)


@contextlib.contextmanager
def template_errors(env: jinja2.Environment, name: str):
    """Turn Jinja's exceptions into problems that name the template file and line."""
    try:
        yield
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(str(p) for p in env.loader.searchpath)  # type: ignore[union-attr]
        raise BulletinError.single(
            f"template {exc.name!r} not found",
            hint=f"searched: {searched}; add the file to your theme's templates/",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise BulletinError.single(
            f"template syntax error: {exc.message}",
            Path(exc.filename) if exc.filename else None,
            exc.lineno,
            hint="check the {% … %} and {{ … }} tags on and just before this line",
        ) from None
    except BulletinError:
        raise
    except Exception as exc:
        path, line = _template_frame(exc)
        raise BulletinError(
            [
                Problem(
                    f"error while rendering {name}: {type(exc).__name__}: {exc}",
                    path,
                    line,
                    hint="check the variable names used in the template",
                )
            ]
        ) from None


def _template_frame(exc: BaseException) -> tuple[Path | None, int | None]:
    """Jinja rewrites tracebacks so frames point at template files; take the innermost."""
    found: tuple[Path | None, int | None] = (None, None)
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt", ".js")):
            found = (Path(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found

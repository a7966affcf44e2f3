"""Themes are data: templates/, static/ and theme.yaml, found in a chain of folders.

A bulletin's own `themes/<name>/` comes first, so a file of the same name there
overrides the built-in theme's; a theme may `extends:` another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulletin.errors import Report
from bulletin.load.yamlfile import key_line, parse_yaml, read_text
from bulletin.model import Config
from bulletin.render import builtin_themes_dir

THEME_FILE = "theme.yaml"


@dataclass(frozen=True)
class Theme:
    name: str
    folders: tuple[Path, ...]  # most specific first
    settings: dict[str, Any]

    @property
    def template_dirs(self) -> list[Path]:
        return [f / "templates" for f in self.folders if (f / "templates").is_dir()]

    def static_files(self) -> dict[str, Path]:
        """Every static file by its path under static/; earlier folders win."""
        files: dict[str, Path] = {}
        for folder in reversed(self.folders):
            static = folder / "static"
            for path in sorted(static.rglob("*")) if static.is_dir() else ():
                if path.is_file() and not path.name.startswith("."):
                    files[path.relative_to(static).as_posix()] = path
        return files

    def find_static(self, name: str) -> Path | None:
        return self.static_files().get(name)


def search_path(config: Config, name: str) -> list[Path]:
    own = config.root / "themes" / name
    builtin = builtin_themes_dir() / name
    seen: list[Path] = []
    for folder in (own, builtin):
        if folder.is_dir() and folder.resolve() not in seen:
            seen.append(folder.resolve())
    return seen


def available_themes(config: Config) -> list[str]:
    roots = [config.root / "themes", builtin_themes_dir()]
    return sorted(
        {p.name for r in roots if r.is_dir() for p in r.iterdir() if (p / THEME_FILE).is_file()}
    )


def load_theme(config: Config, report: Report) -> Theme | None:
    folders: list[Path] = []
    settings: dict[str, Any] = {}
    name: str | None = config.theme
    while name:
        chain = search_path(config, name)
        if not chain:
            report.error(
                f"unknown theme {name!r}",
                config.root / "bulletin.yaml",
                key_line(config.root / "bulletin.yaml", "theme"),
                hint=f"available themes: {', '.join(available_themes(config)) or 'none'}",
            )
            return None
        if any(f in folders for f in chain):
            report.error(f"theme {name!r} extends itself", chain[0] / THEME_FILE)
            return None
        folders.extend(chain)
        own = _read_settings(chain, report)
        settings = merge(own, settings)
        name = own.get("extends")
    return Theme(config.theme, tuple(folders), settings)


def _read_settings(chain: list[Path], report: Report) -> dict[str, Any]:
    """theme.yaml of the folders of one theme, the more specific one winning."""
    merged: dict[str, Any] = {}
    for folder in reversed(chain):
        path = folder / THEME_FILE
        if path.is_file():
            text = read_text(path, report)
            doc = text is not None and parse_yaml(text, path, report, what=THEME_FILE)
            if doc:
                merged = merge(merged, doc.data)
    return merged


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of theme settings: a bulletin overrides one key of `print:` and keeps
    the rest of the built-in theme's."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result

"""Which installed font serves each typographic role, and which characters none covers.

The roles and their font stacks are theme data (`print.fonts` in theme.yaml); the
installed fonts and their character sets come from fontconfig, the same source
Pango (and so WeasyPrint) uses. A character no installed font covers would print
as a blank box (tofu) in the PDF.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

# Characters that are not drawn, so need no glyph.
_INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\n\r\t ")


@dataclass(frozen=True)
class InstalledFont:
    family: str
    file: str
    starts: tuple[int, ...]  # sorted range starts of the character set
    ends: tuple[int, ...]

    def covers(self, char: str) -> bool:
        index = bisect.bisect_right(self.starts, ord(char)) - 1
        return index >= 0 and ord(char) <= self.ends[index]


@cache
def installed_fonts() -> tuple[InstalledFont, ...]:
    """Every font fontconfig knows, with its character set (one fc-list call)."""
    if shutil.which("fc-list") is None:
        return ()
    output = subprocess.run(
        ["fc-list", "-f", "%{family}|%{file}|%{charset}\\n"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    fonts = []
    for line in output.splitlines():
        families, _, rest = line.partition("|")
        file, _, charset = rest.partition("|")
        starts, ends = _ranges(charset)
        for family in families.split(","):
            fonts.append(InstalledFont(family.strip(), file, starts, ends))
    return tuple(fonts)


def _ranges(charset: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pairs = []
    for item in charset.split():
        low, _, high = item.partition("-")
        pairs.append((int(low, 16), int(high or low, 16)))
    pairs.sort()
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def serving_font(stack: Iterable[str]) -> InstalledFont | None:
    """The first family of a stack that is installed, as fontconfig names it."""
    by_family: dict[str, InstalledFont] = {}
    for font in installed_fonts():
        by_family.setdefault(font.family.casefold(), font)
    for family in stack:
        font = by_family.get(family.casefold())
        if font is not None:
            return font
    return None


def uncovered(text: str) -> set[str]:
    """The characters of `text` that no installed font covers (they would be tofu)."""
    fonts = installed_fonts()
    missing = set()
    for char in set(text) - _INVISIBLE:
        if not any(font.covers(char) for font in fonts):
            missing.add(char)
    return missing


def role_stacks(theme_settings: dict) -> dict[str, list[str]]:
    """The print font stacks by role, from the theme's `print.fonts`."""
    fonts = (theme_settings.get("print") or {}).get("fonts") or {}
    return {role: list(stack) for role, stack in fonts.items()}


def tofu(articles) -> dict[str, list]:
    """Characters no installed font covers, each with the articles that use it."""
    used: dict[str, list] = {}
    for article in articles:
        text = " ".join((article.title, article.subtitle, article.byline, article.text))
        for char in uncovered(text):
            used.setdefault(char, []).append(article)
    return used


@cache
def fonts_fingerprint() -> str:
    """The installed fonts' files, sizes and times: a font installed or removed changes
    every PDF's key. Its own light fontconfig call (no character sets): a build that
    finds its PDFs up to date needs only this."""
    if shutil.which("fc-list") is None:
        return ""
    output = subprocess.run(
        ["fc-list", "-f", "%{file}\\n"], capture_output=True, text=True, check=False
    ).stdout
    digest = hashlib.sha1()
    for font in sorted(set(output.splitlines())):
        try:
            stat = os.stat(font)
        except OSError:
            continue
        digest.update(f"{font}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()

"""Stage 3: turn the model into pages (HTML, XML) and issue PDFs through the theme."""

from pathlib import Path


def builtin_themes_dir() -> Path:
    """Installed wheels carry the themes inside the package; a checkout has them at the top."""
    packaged = Path(__file__).resolve().parent.parent / "themes"
    return packaged if packaged.is_dir() else packaged.parent.parent / "themes"

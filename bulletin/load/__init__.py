"""Stage 1: read a bulletin's files from disk and validate them into the model."""

from bulletin.load.project import load_bulletin

__all__ = ["load_bulletin"]

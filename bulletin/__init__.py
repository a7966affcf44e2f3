"""bulletin: build a periodic information bulletin (website and print PDF) from Markdown."""

__version__ = "0.1.0"

"""Chinese typesetting on top of WeasyPrint.

WeasyPrint (up to at least 70) justifies by stretching only U+0020 and U+00A0, so
Chinese lines stay ragged and a line holding one ASCII space gets that space blown
up to about 2 em. `install()` replaces its `justify_line` with one that spreads a
CJK line's leftover width between all its characters (inter-character
justification, as CSS `text-justify: inter-character` would), measuring the result
with Pango itself so the line ends flush. Lines without Chinese keep WeasyPrint's
own behaviour. The patch is guarded: on a WeasyPrint whose internals differ it is
not installed, and PDFs come out as before (ragged) with a warning.
"""

from __future__ import annotations

import inspect
import logging
import re

log = logging.getLogger(__name__)

# Han, CJK punctuation, kana, full-width forms, and the curly quotes Chinese uses.
CJK = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u2018\u2019\u201c\u201d\u2014\u2026]"
)
_installed = False
FLUSH_TOLERANCE = 0.2  # points a justified line may end short of or past the edge

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_OPEN_QUOTE = re.compile(f"(?<=[{HAN}])([“‘])")
_CLOSE_QUOTE = re.compile(f"([”’])(?=[{HAN}])")
# A closing mark (its blank on the right) next to another mark: halve the first.
_HALT_PAIR = re.compile(
    "([”’》）】」』〉，。、；：！？])(?=[“‘《（【「『〈”’》）】」』〉，。、；：！？])"
)
_TEXT = re.compile(r"(?<=>)[^<]+|^[^<]+")
_PHRASE_END = re.compile(r"(?<=[：:])|[ \u3000]+")


def print_text(html: str) -> str:
    """Chinese fixes for the text (never the tags) of print HTML.

    Pango allows no break before “ or after ”, so a quoted phrase drags whole onto
    the next line; a zero-width space next to the Han character frees it (and does
    not show in extracted text). A closing mark followed by another mark gets the
    OpenType `halt` feature (class "halt") so the pair does not take two full widths.
    """

    def fix(match: re.Match) -> str:
        text = _OPEN_QUOTE.sub("\u200b\\1", match.group(0))
        text = _CLOSE_QUOTE.sub("\\1\u200b", text)
        return _HALT_PAIR.sub(r'<span class="halt">\1</span>', text)

    return _TEXT.sub(fix, html)


def title_phrases(title: str) -> list[str]:
    """A headline's phrases (split at spaces and after a colon), so that a long title
    breaks between phrases rather than inside one."""
    return [part for part in _PHRASE_END.split(title) if part]


def install() -> bool:
    """Patch WeasyPrint's justification once per process; True when it is active."""
    global _installed
    if _installed:
        return True
    try:
        from weasyprint.formatting_structure import boxes
        from weasyprint.layout import inline
        from weasyprint.text.line_break import create_layout, line_size
    except ImportError:  # pragma: no cover - depends on the installed WeasyPrint
        return _refuse("its modules moved")
    expected = {
        inline.justify_line: ["context", "line", "extra_width"],
        create_layout: ["text", "style", "context", "max_width", "justification_spacing"],
        line_size: ["line", "style"],
    }
    for function, parameters in expected.items():
        if list(inspect.signature(function).parameters) != parameters:
            return _refuse(f"{function.__name__} changed")
    original = inline.justify_line

    def justify_line(context, line, extra_width):
        if extra_width > 0 and _has_cjk(line, boxes):
            _spread(context, line, extra_width, boxes, create_layout, line_size)
        else:
            original(context, line, extra_width)

    justify_line.__wrapped__ = original
    inline.justify_line = justify_line
    _installed = True
    return True


def _refuse(why: str) -> bool:
    log.warning("Chinese justification is off: this WeasyPrint differs (%s)", why)
    return False


def _text_boxes(box, boxes):
    if isinstance(box, boxes.TextBox):
        yield box
    elif isinstance(box, boxes.LineBox | boxes.InlineBox):
        for child in box.children:
            if child.is_in_normal_flow():
                yield from _text_boxes(child, boxes)


def _has_cjk(line, boxes) -> bool:
    return any(CJK.search(box.text) for box in _text_boxes(line, boxes))


def _spread(context, line, extra_width, boxes, create_layout, line_size) -> None:
    """Give every character of the line the same extra letter-spacing.

    Pango adds letter-spacing per grapheme cluster, which is not always per
    character (a font may shape "——" as one cluster), so the width the first pass
    really added tells the true number of gaps, and a second pass corrects it.
    """
    texts = [box for box in _text_boxes(line, boxes) if box.text]
    characters = sum(len(box.text) for box in texts)
    if characters <= 1:
        return
    spacing = extra_width / (characters - 1)
    added = _add_letter_spacing(context, line, spacing, boxes, create_layout, line_size)
    clusters = added / spacing
    # Pango rounds to 1/1024 pt, so small differences are rounding, not clusters.
    if abs(added - spacing * characters) > FLUSH_TOLERANCE and clusters > 1.5:
        exact = extra_width / (clusters - 1)
        _add_letter_spacing(context, line, exact - spacing, boxes, create_layout, line_size)


def _add_letter_spacing(context, line, spacing, boxes, create_layout, line_size) -> float:
    """Add `spacing` to the letter-spacing of every text box on the line, re-measure
    each box with Pango and move the boxes after it; returns the width added."""

    def walk(box, x_advance):
        if isinstance(box, boxes.TextBox):
            box.position_x += x_advance
            if box.text:
                style = box.style.copy()
                base = style["letter_spacing"]
                style["letter_spacing"] = (0 if base == "normal" else base) + spacing
                layout = create_layout(box.text, style, context, None, 0)
                first_line, _ = layout.get_first_line()
                width, _ = line_size(first_line, style)
                layout.deactivate()
                x_advance += width - box.width
                box.style, box.pango_layout, box.width = style, layout, width
        elif isinstance(box, boxes.LineBox | boxes.InlineBox):
            box.position_x += x_advance
            before = x_advance
            for child in box.children:
                if child.is_in_normal_flow():
                    x_advance = walk(child, x_advance)
            box.width += x_advance - before
        else:
            box.translate(x_advance, 0)
        return x_advance

    return walk(line, 0)


def ragged_lines(document, tolerance: float = 1.0) -> list[str]:
    """The justified lines of a rendered WeasyPrint document whose ink ends more than
    `tolerance` points from the right edge (last lines of paragraphs excepted)."""
    from weasyprint.formatting_structure import boxes

    ragged = []
    for page in document.pages:
        blocks: dict[int, tuple] = {}
        for block, line in _lines(page._page_box, boxes):
            blocks.setdefault(id(block), (block, []))[1].append(line)
        for block, lines in blocks.values():
            if block.style["text_align_all"] != "justify":
                continue
            edge = block.content_box_x() + block.width
            for line in lines[:-1]:
                texts = [b for b in line.descendants() if isinstance(b, boxes.TextBox)]
                if texts and abs(edge - _ink_right(texts)) > tolerance:
                    ragged.append("".join(b.text for b in texts))
    return ragged


def _lines(box, boxes):
    for child in getattr(box, "children", ()):
        if isinstance(child, boxes.LineBox):
            yield box, child
        else:
            yield from _lines(child, boxes)


def _ink_right(texts) -> float:
    """Where the last glyph ends: WeasyPrint counts one letter-spacing after it."""
    last = max(texts, key=lambda b: b.position_x + b.width)
    spacing = last.style["letter_spacing"]
    return last.position_x + last.width - (0 if spacing == "normal" else spacing)

"""Fonts by role, and a build that would print tofu refuses to."""

from __future__ import annotations

from bulletin.render.fonts import serving_font, uncovered

RARE = "\U00031350"  # CJK Extension H: no font the set-up installs covers it


def test_fonts_command_names_the_serving_font_of_each_role(folder, cli):
    folder.issue()
    result = cli("-C", folder.root, "fonts")
    assert result.exit_code == 0, result.output
    for role in ("title", "hei", "kai", "fang", "song", "latin"):
        assert role in result.output
    assert "FandolFang" in result.output  # the free 仿宋 the set-up installs
    assert "every character of the content is covered" in result.output


def test_role_falls_back_to_the_first_installed_font():
    font = serving_font(["仿宋_GB2312", "No Such Font", "FandolFang", "Noto Serif CJK SC"])
    assert font is not None and font.family == "FandolFang"
    assert serving_font(["No Such Font"]) is None


def test_rare_name_characters_are_covered_by_a_fallback():
    assert uncovered("堃喆珺昇，“科技”2024") == set()
    assert uncovered("正文" + RARE) == {RARE}


def test_a_build_that_would_print_tofu_fails_naming_character_and_article(folder, cli, tmp_path):
    folder.issue()
    path = folder.root / "issues/2024-01/second.md"
    path.write_text(path.read_text(encoding="utf-8") + f"\n人名{RARE}。\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli("-C", folder.root, "build", "-o", out, "--now", "2024-03-01T09:00")
    assert result.exit_code != 0
    assert "U+31350" in result.output and "second.md" in result.output
    assert not out.exists()
    fonts = cli("-C", folder.root, "fonts")
    assert fonts.exit_code != 0 and "U+31350" in fonts.output
    assert (
        cli(
            "-C", folder.root, "build", "-o", out, "--no-pdf", "--now", "2024-03-01T09:00"
        ).exit_code
        == 0
    )

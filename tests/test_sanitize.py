"""The one sanitizer for sandbox text shown to people and CI."""

from __future__ import annotations

from runner.sanitize import clean, one_line, redacted


def test_ansi_and_osc_sequences_are_removed_whole() -> None:
    assert clean("a\x1b[31mred\x1b[0m b") == "ared b"
    assert clean("x\x1b]8;;http://evil/\x07link\x1b]8;;\x07y") == "xlinky"
    assert clean("\x9b2Jz") == "z"


def test_control_characters_and_bidi_are_stripped() -> None:
    assert clean("a\x00b\x07c\x7f\x85d\u202ee\u200bf") == "abcdef"
    assert clean("keep\ttab\nnewline") == "keep\ttab\nnewline"


def test_carriage_return_cannot_overwrite_a_line() -> None:
    assert "\r" not in clean("allowed\rDENIED")


def test_workflow_commands_are_defused_on_every_line() -> None:
    out = clean("ok\n::warning file=x::forged\n  ::add-mask::x\n##[error]y")
    for line in out.splitlines()[1:]:
        assert not line.lstrip().startswith(("::", "##["))


def test_one_line_folds_newlines_and_caps() -> None:
    assert one_line("a\nb\r\nc") == "a b c"
    assert len(one_line("x" * 1000, 50)) == 50
    assert not one_line("\n::error::x").startswith("::")


def test_lone_surrogates_are_dropped() -> None:
    assert clean("a\ud800b") == "ab"


def test_redacted_applies_the_redactor_first() -> None:
    assert redacted("key=abc123", lambda s: s.replace("abc123", "[REDACTED]"), line=True) == "key=[REDACTED]"

"""The one sanitizer for text that comes out of the sandbox and is shown to a person or a CI.

Tool inputs, model text, agent stderr, file names under ``backend/``, issue titles: all of it
is written by the agent. Shown as is, it can forge terminal output (ANSI/OSC escape
sequences, carriage returns that overwrite a line), forge CI annotations (GitHub's
``::warning::`` / ``::add-mask::`` workflow commands are read from any line of a step's
output), smuggle links, or bury the real output under megabytes.

- :func:`clean` strips control characters (C0 except newline and tab, DEL, C1, bidi and
  zero-width format characters, lone surrogates), removes escape sequences whole, defuses
  workflow commands at line starts, and caps the length.
- :func:`one_line` does the same and also folds every newline, for fields that are one line
  (tool names, titles, reasons, paths in a table).
- :func:`redacted` runs a redactor first (``Redactor.redact_text``-like callable), so secrets
  never reach the screen either.

Renderers escape for their own format on top of this (rich markup, Markdown, HTML).
"""

from __future__ import annotations

import re
from collections.abc import Callable

DEFAULT_CAP = 2000
LINE_CAP = 300
ELLIPSIS = "…"

# CSI / OSC / DCS / other escape sequences, removed whole (with or without their ESC).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b\]|\x9d).*?(?:\x07|\x1b\\|\x9c|$)"  # OSC ... BEL or ST (or end of text)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f]).*?(?:\x1b\\|\x9c|$)"  # DCS SOS PM APC ... ST
    r"|\x1b[ -/]*[0-~]?",  # any other ESC sequence (or a lone ESC)
    re.DOTALL,
)
# Control and invisible format characters, newline and tab excepted.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
    "\ud800-\udfff]"
)
# GitHub Actions workflow commands (``::cmd args::``) and the legacy ``##[cmd]`` form.
_WORKFLOW = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)


def clean(text: object, cap: int = DEFAULT_CAP) -> str:
    """Sandbox text made safe to show: no escapes or controls, no workflow commands, capped."""
    s = text if isinstance(text, str) else str(text)
    if cap > 0 and len(s) > cap * 4:
        s = s[: cap * 4]  # bound the regex work before cleaning
    s = _ESCAPES.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _CONTROLS.sub("", s)
    s = _WORKFLOW.sub(lambda m: m.group(1) + m.group(2)[0] + "\u200c" + m.group(2)[1:], s)
    # The zero-width non-joiner breaks the command marker; it is added by us, after stripping.
    return _cap(s, cap)


def one_line(text: object, cap: int = LINE_CAP) -> str:
    """:func:`clean` for one-line fields: every newline and tab becomes a space."""
    s = clean(text, cap * 2 if cap > 0 else 0)
    s = re.sub(r"[\n\t]+", " ", s).strip()
    if s.startswith(("::", "##[")):
        s = s[0] + "\u200c" + s[1:]
    return _cap(s, cap)


def redacted(text: object, redact: Callable[[str], str] | None, cap: int = DEFAULT_CAP,
             *, line: bool = False) -> str:
    """Redact (when a redactor is given), then clean (one line when ``line``)."""
    s = text if isinstance(text, str) else str(text)
    if redact is not None:
        s = redact(s)
    return one_line(s, cap) if line else clean(s, cap)


def _cap(s: str, cap: int) -> str:
    if cap > 0 and len(s) > cap:
        return s[: max(0, cap - 1)] + ELLIPSIS
    return s

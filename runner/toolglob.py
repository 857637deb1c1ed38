"""The Glob and Grep tools' pattern language, one definition for the builtin tools
(runner/agent/tools.py) and for the policy's derivation of what they read
(runner/policy/derive.py): wcmatch as Claude Code matches (``**`` spans directories,
``{a,b}`` braces, dotfiles included, no extglob; a Grep glob without ``/`` matches the base
name), at most :data:`BRACE_LIMIT` brace expansions."""

from __future__ import annotations

from wcmatch import glob

GLOB_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB  # the Glob tool's pattern
GREP_GLOB_FLAGS = GLOB_FLAGS | glob.MATCHBASE  # the Grep tool's ``glob``
BRACE_LIMIT = 1000  # patterns a brace expression may expand to (wcmatch refuses more)

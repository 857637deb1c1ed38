"""Arguments programs take as text (ShellCommand.text_args): secret names there are no reads."""

from __future__ import annotations

import pytest

from runner.policy.paths import PathResolver
from runner.policy.shell import analyze
from runner.policy.shell.textargs import text_arguments


@pytest.mark.parametrize(("argv", "expected"), [
    (["echo", ".env"], [1]),
    (["printf", "%s\n", ".env", "id_rsa"], [1, 2, 3]),
    (["[", "-f", ".env", "]"], [1, 2, 3]),
    (["test", "-e", ".env"], [1, 2]),
    (["grep", "-qx", ".env", ".gitignore"], [2]),
    (["grep", "-rn", "id_rsa\\|\\.pem", "backend"], [2]),
    (["grep", "-e", ".env", "-e", "x", ".gitignore"], [2, 4]),
    (["grep", "-e.env", ".gitignore"], [1]),
    (["grep", "--regexp=.env", ".gitignore"], [1]),
    (["grep", "-f", ".env", "backend"], None),  # patterns from a file: no pattern operand
    (["grep", "-r", "--include=*.pem", "BEGIN", "backend"], [2, 3]),
    (["grep", "-A", "2", ".env", "x"], [3]),
    (["grep", "--", ".env", "x"], [2]),
    (["rg", "-g", "!.env", "TODO"], [2, 3]),
    (["rg", "--glob", "*.pem", "KEY", "backend"], [2, 3]),
    (["find", ".", "-name", ".env", "-o", "-path", "*/.ssh/*"], [3, 6]),
    (["git", "check-ignore", "-v", ".env"], [3]),
    (["git", "-C", "backend", "check-ignore", ".env"], [4]),
    (["git", "ls-files", "--error-unmatch", ".env"], [3]),
    (["git", "grep", "-n", ".env", "--", "backend"], [3]),
    (["git", "show", "HEAD:.env"], None),
    (["git", "log", "-p", "--", ".env"], None),
    (["rsync", "-a", "--exclude=.env", "--exclude", "*.pem", "backend/", "/tmp/b"], [2, 4]),
    (["tar", "czf", "x.tgz", "--exclude=.env", "backend"], [3]),
    (["zip", "-r", "x.zip", "backend", "-x", ".env"], [5]),
    (["cat", ".env"], None),
    (["xxd", "deploy/server.key"], None),
])
def test_text_arguments(argv: list[str], expected: list[int] | None) -> None:
    assert text_arguments(argv[0], argv) == expected


def test_commands_carry_their_text_arguments() -> None:
    a = analyze("echo '.env' >> backend/.gitignore && grep -qx .env .gitignore", PathResolver(None))
    by_program = {c.program: c.text_args for c in a.facts.commands}
    assert by_program == {"echo": [1], "grep": [2]}
    assert analyze("cat .env", PathResolver(None)).facts.commands[0].text_args is None

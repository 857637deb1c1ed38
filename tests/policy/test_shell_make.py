"""make (issue 9): the recipe lines a make command runs are read from the makefile and
analysed as shell in the make directory; what cannot be known is opaque."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.policy.paths import PathResolver
from runner.policy.shell import ShellAnalysis, analyze
from runner.policy.shell.makefile import Makefile, Opaque

FIXTURE = """\
.PHONY: help test lint clean check

PY ?= python
TESTS = tests
FLAGS := -q $(EXTRA)

help: ## list the targets
\t@grep -E '^[a-z]+:' $(MAKEFILE_LIST) | sort

test:
\t$(PY) -m pytest $(TESTS)

lint:
\truff check app tests
\tmypy app

check: lint test ## both

revision:
\talembic revision -m "$(m)"
"""


def run(cmd: str, ws: Path, cwd: str = "/workspace") -> ShellAnalysis:
    return analyze(cmd, PathResolver(ws), cwd)


def commands(result: ShellAnalysis) -> list[list[str]]:
    return [c.argv for c in result.facts.commands]


def opaque(result: ShellAnalysis) -> set[str]:
    return {o.construct for o in result.facts.opaque}


def facts(result: ShellAnalysis) -> set[tuple[str, str]]:
    return {(p.path, p.op) for p in result.paths}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "Makefile").write_text(FIXTURE)
    return tmp_path


def test_goal_recipe_runs_in_the_make_directory(ws: Path) -> None:
    for cmd, cwd in (("make -C backend test", "/workspace"), ("make test", "/workspace/backend")):
        result = run(cmd, ws, cwd)
        assert ["python", "-m", "pytest", "tests"] in commands(result)
        assert ("backend/tests", "read") in facts(result)
        assert not opaque(result), result.facts.opaque


def test_prerequisites_and_default_goal(ws: Path) -> None:
    progs = [c[0] for c in commands(run("make -C backend check", ws))]
    assert progs.index("ruff") < progs.index("mypy") < progs.index("python")
    progs = [c[0] for c in commands(run("make -C backend", ws))]
    assert "grep" in progs and "ruff" not in progs  # the default goal is the first target
    result = run("make -C backend help", ws)
    assert ("backend/Makefile", "read") in facts(result)  # $(MAKEFILE_LIST)


def test_command_line_variables_win_and_unknown_ones_are_opaque(ws: Path) -> None:
    result = run('make -C backend revision m="add item"', ws)
    assert ["alembic", "revision", "-m", "add item"] in commands(result)
    assert not opaque(result)
    assert ["pytest3", "-m", "pytest", "tests"] in commands(run("make -C backend test PY=pytest3", ws))
    (ws / "backend" / "Makefile").write_text("t:\n\tpytest $(ARGS)\n")
    assert "make-variable" in opaque(run("make -C backend t", ws))


def test_dry_run_runs_only_forced_lines(ws: Path) -> None:
    (ws / "backend" / "Makefile").write_text("a:\n\tcat ../.env\n\t+echo hi\n\t$(MAKE) -C sub b\n")
    result = run("make -C backend -n a", ws)
    assert ["cat", "../.env"] not in commands(result)
    assert ["echo", "hi"] in commands(result)
    assert ["make", "-C", "sub", "b"] in commands(result)


@pytest.mark.parametrize("makefile,cmd", [
    ("test:\n\tpython -m pytest tests\n\tcat ../.env\n", "make -C backend test"),
    ("all:\n\t@tar czf /tmp/x.tgz ../.env ../deploy\n", "make -C backend"),
    ("x = ../.env\nr:\n\tcat $(x)\n", "make -C backend r"),
    ("r: dep\n\ttrue\ndep:\n\tcat ../.env\n", "make -C backend r"),
    ("%.txt:\n\tcat ../$*\n", "make -C backend .env.txt"),
    ("ifeq ($(X),1)\nF = a\nelse\nF = ../.env\nendif\nr:\n\tcat $(F)\n", "make -C backend r X=2"),
    (".ONESHELL:\nr:\n\tcd ..\n\tcat .env\n", "make -C backend r"),
    ("r: ; cat ../.env\n", "make -C backend r"),
])
def test_recipes_reach_the_secret(ws: Path, makefile: str, cmd: str) -> None:
    (ws / "backend" / "Makefile").write_text(makefile)
    result = run(cmd, ws)
    assert (".env", "read") in facts(result), (makefile, result.paths, result.facts.opaque)


@pytest.mark.parametrize("makefile,construct", [
    ("include other.mk\nr:\n\ttrue\n", "make-include"),
    ("V := $(shell cat ../.env)\nr:\n\ttrue\n", "make-function"),
    ("V != cat ../.env\nr:\n\ttrue\n", "make-function"),
    ("ifeq ($(shell id -u),0)\nendif\nr:\n\ttrue\n", "make-function"),
    ("$(shell touch x)\nr:\n\ttrue\n", "make-function"),
    ("V = $(shell id)\nr:\n\techo $(V)\n", "make-function"),
    ("SHELL = /usr/bin/python3\nr:\n\tprint(1)\n", "make-shell"),
    ("r:\n\techo $(FROM_ENV)\n", "make-variable"),
    ("ifeq ($(X),1)\nF = a\nelse\nF = b\nendif\nr:\n\tcat $(F)\n", "make-variable"),
    ("A = $(B)\nB = $(A)\nr:\n\techo $(A)\n", "make-recursion"),
    ("r:\n\techo $(SRC:.c=.o)\n", "make-function"),
    ("\techo outside\nifeq (a,a)\n", "makefile-syntax"),
])
def test_what_cannot_be_known_is_opaque(ws: Path, makefile: str, construct: str) -> None:
    (ws / "backend" / "Makefile").write_text(makefile)
    assert construct in opaque(run("make -C backend r", ws)), makefile


def test_deferred_function_not_used_is_fine(ws: Path) -> None:
    (ws / "backend" / "Makefile").write_text("V = $(shell git describe)\nr:\n\tpytest\n")
    assert not opaque(run("make -C backend r", ws))


def test_makefile_written_earlier_or_too_large_is_opaque(ws: Path) -> None:
    result = run("printf 'x:\\n\\tcat ../.env\\n' > backend/Makefile && make -C backend x", ws)
    assert "script-written-in-command" in opaque(result)
    (ws / "backend" / "Makefile").write_text("#" * (70 * 1024) + "\nr:\n\ttrue\n")
    assert "script-too-large" in opaque(run("make -C backend r", ws))


def test_makefile_chosen_with_f_and_directory_order(ws: Path) -> None:
    (ws / "backend" / "tasks.mk").write_text("lint:\n\tcat .env\n")
    assert (".env", "read") in facts(run("make -f backend/tasks.mk lint", ws))
    # -C first, then -f relative to it: backend/backend/Makefile does not exist
    result = run("make -f backend/Makefile -C backend test", ws)
    assert not [c for c in commands(result) if c[0] == "python"]


def test_no_rule_may_be_built_by_builtin_rules(ws: Path) -> None:
    (ws / "frontend").mkdir()
    assert ("frontend/app", "write") in facts(run("make -C frontend app", ws))
    assert ("frontend/app", "write") not in facts(run("make -r -C frontend app", ws))


def test_recursive_make_is_followed_and_bounded(ws: Path) -> None:
    (ws / "backend" / "Makefile").write_text("r:\n\t$(MAKE) -C sub r\n")
    (ws / "backend" / "sub").mkdir()
    (ws / "backend" / "sub" / "Makefile").write_text("r:\n\tcat ../../.env\n")
    assert (".env", "read") in facts(run("make -C backend r", ws))
    (ws / "backend" / "Makefile").write_text("r:\n\t$(MAKE) r\n")
    assert "make-too-deep" in opaque(run("make -C backend r", ws))


def test_parser_conditionals_and_target_variables() -> None:
    mk = Makefile(directory="/w", names=["Makefile"], command_vars={"MODE": "ci"}, env={})
    mk.read(
        "ifeq ($(MODE),ci)\nOPTS = --ci\nelse ifeq ($(MODE),dev)\nOPTS = --dev\nelse\nOPTS = x\nendif\n"
        "ifndef MODE\nbroken\nendif\n"
        "t: OPTS += --extra\nt:\n\trun $(OPTS) $@\n"
    )
    lines, _ = mk.recipes(["t"], no_builtin_rules=True)
    assert [line.text for line in lines] == ["run --ci --extra t"]
    with pytest.raises(Opaque):
        Makefile(directory="/w", names=[], command_vars={}, env={}).read("ifeq (a,b)\n")

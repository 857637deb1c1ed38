"""Writes, writers and expansions (issue 9): bounded dynamic writes, bounded producers
(xargs, substitutions, read loops), links made earlier in the same command, dynamic read
targets, the writers' tables, and the Grep tool's glob. Facts from the shell analysis,
and decisions through the default policies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.policy.decider import Decider
from runner.policy.derive import derive_input
from runner.policy.engine import PolicyEngine
from runner.policy.models import PathFact, RunInfo, ToolCall
from runner.policy.paths import PathResolver
from runner.policy.shell import ShellAnalysis, analyze
from runner.policy.shell.handlers.files import patch_targets
from runner.policy.shell.links import NewLinks, pattern_bounded
from runner.policy.shell.producers import extend, pipeline_output
from runner.policy.shell.words import Bound, Word

FILES = {
    ".env": "KEY=1\n",
    ".gitignore": ".env\n",
    "backend/app/main.py": "app = 1\n",
    "backend/app/utils.py": "def old_name(): ...\n",
    "backend/tests/test_main.py": "def test(): ...\n",
    "backend/pyproject.toml": "[tool.pytest.ini_options]\naddopts = \"-ra\"\n",
    "backend/db.sqlite3": "",
    "deploy/server.key": "-----BEGIN\n",
    "frontend/app.js": "x\n",
    "fix.patch": "--- a/backend/app/utils.py\n+++ b/backend/app/utils.py\n@@ -1 +1 @@\n-a\n+b\n",
    "front.patch": "--- a/frontend/app.js\n+++ b/frontend/app.js\n@@ -1 +1 @@\n-a\n+b\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def run(cmd: str, ws: Path | None, cwd: str = "/workspace") -> ShellAnalysis:
    return analyze(cmd, PathResolver(ws), cwd)


def writes(cmd: str, ws: Path | None) -> list[PathFact]:
    return [p for p in run(cmd, ws).paths if p.op == "write"]


def extra(p: PathFact) -> dict[str, Any]:
    """The fact as the policies see it (fields at their default are absent)."""
    return p.model_dump()


def opaque(cmd: str, ws: Path | None) -> set[str]:
    return {o.construct for o in run(cmd, ws).facts.opaque}


@pytest.fixture
def decide(regorus_engine: PolicyEngine, ws: Path) -> Iterator[Any]:
    decider = Decider(regorus_engine, workspace=ws, run=RunInfo(id="writes"))

    def go(command: str, tool: str = "Bash", **fields: Any) -> tuple[bool, list[str]]:
        inp = {"command": command} if tool == "Bash" else fields
        _, decision, _ = decider.decide(ToolCall(name=tool, input=inp))
        return decision.allow, [f"{r.policy}.{r.rule}" for r in decision.reasons]

    yield go


# --- bounded patterns -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "bounded"),
    [
        ("backend/*.py", True),
        ("backend/{api,models}", True),
        ("backend/**/*.py", True),
        ("backend/.coverage.*", True),
        ("backend/*/../../frontend/*", True),  # the matches are listed (and normalised)
        ("backend/.*/x", False),  # older bash: .* matches . and ..
        ("backend/.?", False),
        ("backend/{" + ",".join(str(i) for i in range(300)) + "}", False),
    ],
)
def test_pattern_bounded(pattern: str, bounded: bool) -> None:
    assert pattern_bounded(pattern) is bounded


def test_bounded_patterns_are_marked(ws: Path) -> None:
    facts = writes("sed -i 's/a/b/' backend/app/*.py", ws)
    assert {p.path for p in facts} == {"backend/app/*.py", "backend/app/main.py",
                                       "backend/app/utils.py"}
    assert all(p.dynamic and extra(p).get("bounded") for p in facts)
    facts = writes("mkdir -p backend/{api,models}", ws)
    assert {p.path for p in facts} >= {"backend/api", "backend/models"}
    assert all(extra(p).get("bounded") for p in facts)
    assert not any(extra(p).get("bounded") for p in writes("rm $X/y", ws))


@pytest.mark.parametrize(
    "cmd",
    [
        "find backend -name '*.pyc' -delete",
        "find backend -type d -name __pycache__ -exec rm -rf {} +",
        "sed -i 's/a/b/g' backend/*.py",
        "mkdir -p backend/{api,models}",
        "touch backend/api/{__init__,routes}.py",
        'for d in backend/api backend/models; do mkdir -p "$d"; done',
        "rm -rf `find backend -name __pycache__`",
        "rm -f $(find backend -type f -name '*.py[co]')",
        "find backend -name '*.py' | xargs wc -l",
        "grep -rl old_name backend | xargs sed -i 's/old_name/new_name/g'",
        "find backend -name '*.py' -print0 | xargs -0 grep -n app",
        "git ls-files 'backend/*.py' | xargs wc -l",
        "cd backend && find . | grep -E '(__pycache__|\\.py[cod]$)' | xargs rm -rf",
        "find backend -name '*.py' | while read -r f; do wc -l \"$f\"; done",
        "mktemp -d",
        'f=$(mktemp) && echo hi > "$f"',
        'd=$(mktemp -d) && cp backend/app/main.py "$d/main.py"',
        "pytest backend/tests > /tmp/pytest.log",
        "echo x > ~/notes.txt",
        "find backend -name '*.py' -exec cp {} {}.bak \\;",
    ],
)
def test_bounded_writes_are_allowed(decide: Any, cmd: str) -> None:
    assert decide(cmd) == (True, [])


@pytest.mark.parametrize(
    ("cmd", "rule"),
    [
        ("find . -name '*.pyc' -delete", "scope.write_outside_writable"),
        ("find frontend -exec sed -i s/a/b/ {} +", "scope.write_outside_writable"),
        ("sed -i s/a/b/ frontend/*.js", "scope.write_outside_writable"),
        ("for f in frontend/*.js; do echo x > \"$f\"; done", "scope.write_outside_writable"),
        ("grep -rl x frontend | xargs sed -i s/a/b/", "scope.write_outside_writable"),
        ("rm -rf $(find frontend -name x)", "scope.write_outside_writable"),
        ("find backend -exec cp {} {}.bak \\;", "scope.dynamic_write_target"),  # backend.bak
        ("ls | xargs rm", "network.opaque_shell"),
        ("find $D | xargs rm", "network.opaque_shell"),
        ("mktemp -p frontend", "scope.write_outside_writable"),
        ('d=$(mktemp -d); echo x > "$d/../../workspace/frontend/x"', "scope.dynamic_write_target"),
        ("echo x >> ~/.bashrc", "scope.write_outside_workspace"),
        ("echo x > /etc/x", "scope.write_outside_workspace"),
    ],
)
def test_unbounded_or_outside_writes_are_denied(decide: Any, cmd: str, rule: str) -> None:
    allow, rules = decide(cmd)
    assert not allow and rule in rules, rules


def test_sed_script_with_a_date_is_seen_into(ws: Path) -> None:
    cmd = 'sed -i "s/^v = .*$/v = \\"$(date +%Y.%m.%d)\\"/" backend/app/main.py'
    assert "inline-interpreter" not in opaque(cmd, ws)
    assert "inline-interpreter" in opaque('sed -i "s/a/$(cat x)/" backend/app/main.py', ws)
    assert "inline-interpreter" in opaque('sed -i "s/a/$(date +%Y)/e" backend/app/main.py', ws)


def test_find_delete_is_a_write_under_its_start(ws: Path) -> None:
    [fact] = writes("find backend -name '*.pyc' -delete", ws)
    assert (fact.path, fact.raw, extra(fact).get("recursive")) == ("backend", "backend/{}", True)
    assert "contents" not in extra(fact)  # a delete: what is there does not matter


def test_a_write_under_a_root_lists_where_its_links_lead(ws: Path) -> None:
    os.symlink("../../frontend", ws / "backend" / "app" / "fe")
    [fact] = writes("find backend -name '*.js' -exec sed -i s/a/b/ {} +", ws)
    assert "frontend/app.js" in extra(fact)["contents"]  # walked through the link


def test_write_under_a_root_through_a_link_is_denied(decide: Any, ws: Path) -> None:
    os.symlink("../../frontend", ws / "backend" / "app" / "fe")
    allow, rules = decide("find backend -exec sed -i s/a/b/ {} +")
    assert not allow and "scope.write_symlink_escape" in rules
    assert decide("find backend -name '*.pyc' -delete") == (True, [])  # deletes no target


# --- producers --------------------------------------------------------------------------


def words(*texts: str) -> list[Word]:
    return [Word(t) for t in texts]


@pytest.mark.parametrize(
    ("commands", "roots"),
    [
        ([("find", words("backend", "-name", "*.py"))], ("backend",)),
        ([("find", words("-L", "a", "b", "-type", "f"))], ("a", "b")),
        ([("find", words())], (".",)),
        ([("grep", words("-rl", "x", "backend"))], ("backend",)),
        ([("grep", words("-l", "x", "a.py", "b.py"))], ("a.py", "b.py")),
        ([("rg", words("-l", "x"))], (".",)),
        ([("rg", words("--files", "backend"))], ("backend",)),
        ([("git", words("ls-files", "backend/*.html"))], ("backend",)),
        ([("find", words(".")), ("grep", words("-v", "x")), ("sort", words("-u")),
          ("head", words("-n", "5"))], (".",)),
        ([("mktemp", words("-d"))], ("/tmp",)),
        ([("mktemp", words("backend/x.XXXX"))], ("backend",)),
    ],
)
def test_bounded_producers(commands: list[tuple[str, list[Word]]], roots: tuple[str, ...]) -> None:
    bound = pipeline_output(commands)
    assert bound is not None and bound.roots == roots


@pytest.mark.parametrize(
    "commands",
    [
        [("find", words("backend", "-printf", "%p\\n"))],
        [("find", words("backend", "-ls"))],
        [("find", words("backend", "-exec", "echo", "{}", ";"))],
        [("find", words("$D"))],
        [("find", [Word("x", True)])],
        [("grep", words("-r", "x", "backend"))],  # lines, not names
        [("grep", words("-rlo", "x", "backend"))],
        [("ls", words("backend"))],  # names relative to backend, not to the cwd
        [("cat", words("list.txt"))],
        [("find", words(".")), ("grep", words("-o", "x"))],  # parts of names
        [("find", words(".")), ("sed", words("s/a/b/"))],
        [("find", words(".")), ("sort", words("-o", "x"))],
        [("git", words("ls-files", ":/frontend"))],
        [("git", words("ls-files", "--format=%(path)"))],
        [("git", words("diff", "--name-only"))],
        [],
    ],
)
def test_unbounded_producers(commands: list[tuple[str, list[Word]]]) -> None:
    assert pipeline_output(commands) is None


def test_extend_keeps_a_tail_under_the_roots() -> None:
    found = Bound(("backend",), lambda n: n.endswith(".py"), False, "find")
    assert extend(found, "") is found
    assert extend(found, "/x").roots == ("backend",)  # type: ignore[union-attr]
    assert extend(found, ".bak") is not None  # the root itself is not a .py name
    assert extend(Bound(("backend",), None, True, "find"), ".bak") is None  # backend.bak
    assert extend(found, "/../x") is None
    assert extend(found, "/*") is None
    assert extend(Bound(("/tmp",), None, True, "mktemp"), ".log") is not None


def test_split_names_need_plain_names(ws: Path) -> None:
    (ws / "backend" / "x .git").mkdir()
    assert "network.opaque_shell" not in str(opaque("rm -rf `find backend -name '*git'`", ws))
    facts = writes("rm -rf `find backend -name '*git'`", ws)
    assert facts and all(p.dynamic and not extra(p).get("under") for p in facts)
    # exact names (-print0 | xargs -0, -exec, quoted) are fine
    assert all(extra(p).get("under") for p in writes(
        "find backend -name '*git' -print0 | xargs -0 rm -rf", ws))
    assert all(extra(p).get("under") for p in writes(
        "rm -rf \"$(find backend -name '*git')\"", ws))
    assert "xargs-dynamic-args" in opaque("find backend -name '*git' | xargs rm -rf", ws)


def test_names_made_odd_by_this_command_are_not_plain(ws: Path) -> None:
    facts = writes("mkdir 'backend/a .git'; rm -rf $(find backend -name 'a*')", ws)
    assert any(p.dynamic and not extra(p).get("under") for p in facts)


def test_read_loop_variable_is_bounded(ws: Path) -> None:
    facts = run('find deploy -type f | while read -r f; do cat "$f"; done', ws).paths
    [cat] = [p for p in facts if p.program == "cat"]
    assert cat.path == "deploy" and "deploy/server.key" in extra(cat)["contents"]
    # reassigned: unknown again
    assert "dynamic-read" in opaque(
        'find backend -type f | while read -r f; do f=$(cat x); cat "$f"; done', ws)


def test_for_loop_body_sees_each_value(ws: Path) -> None:
    facts = writes('for d in backend/a backend/b; do mkdir -p "$d/x"; done', ws)
    assert {p.path for p in facts} == {"backend/a/x", "backend/b/x"}
    assert not any(p.dynamic for p in facts)
    facts = writes('for f in backend/app/*.py; do sed -i s/a/b/ "$f"; done', ws)
    assert {p.path for p in facts} == {"backend/app/main.py", "backend/app/utils.py"}
    assert {p.path for p in writes("for T in a ..; do rm $T/x; done", ws)} == {"a/x", "/x"}


# --- dynamic read targets ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        "cat $(printf '.%s' env)",
        'cat "$(echo .)env"',
        "cat $(ls -a | grep '^.env$')",
        "cat $(echo LmVudg== | base64 -d)",
        'grep -r KEY "$(dirname $X)"',  # ($(dirname backend) is computed: .)
        "tar czf backend/x.tgz $(printf '.%s' env)",
        "cat $(cat backend/name.txt)",
        'cat < "$F"',
    ],
)
def test_dynamic_read_targets_are_opaque(ws: Path, cmd: str) -> None:
    assert "dynamic-read" in opaque(cmd, ws)


@pytest.mark.parametrize(
    "cmd",
    ["ls $D", "find $D -name x", "echo $(cat x)", "cat backend/*.py", 'X=backend; cat "$X/app"'],
)
def test_names_listings_and_known_values_are_no_dynamic_reads(ws: Path, cmd: str) -> None:
    assert "dynamic-read" not in opaque(cmd, ws)


def test_bounded_read_targets_list_what_they_reach(decide: Any) -> None:
    allow, rules = decide("cat $(find . -maxdepth 1 -name '.e*')")
    assert not allow and "secrets.secret_file" in rules
    assert decide("wc -l $(find backend -name '*.py')") == (True, [])


# --- links made earlier in the same command ---------------------------------------------


def test_new_links_resolve_later_paths() -> None:
    links = NewLinks()
    links.add("/workspace/backend/fe", "/workspace/frontend", "ln")
    assert links.hit("/workspace/backend/fe/app.js") == (links.items[0], "app.js")
    assert links.hit("/workspace/backend/fe") == (links.items[0], "")
    assert links.hit("/workspace/backend/x/../fe/a") == (links.items[0], "a")
    assert links.hit("/workspace/backend/fex") is None
    links.add("/workspace/backend/x", None, "tar")
    assert links.hit("/workspace/backend/x/y")[0].program == "tar"  # type: ignore[index]
    assert links.hit("/workspace/backend/x") is None  # the directory itself is real
    through, unknown = links.patterns("/workspace/backend/f*/app.js")
    assert through == ["/workspace/frontend/app.js"] and unknown is None
    assert links.patterns("/workspace/backend/*/app.js")[1] is links.items[1]  # may be x/


@pytest.mark.parametrize(
    ("cmd", "rule"),
    [
        ("ln -s ../frontend backend/fe && echo x > backend/fe/app.js", "scope.write_symlink_escape"),
        ("ln -s .. backend/up && cat backend/up/.e*", "secrets.secret_file"),
        ("ln -s ../frontend/app.js backend/a.js; sed -i s/a/b/ backend/a.js",
         "scope.write_symlink_escape"),
        ("ln -s ../.git backend/g && echo x > backend/g/hooks/pre-commit",
         "scope.write_protected_dir"),
        ("ln -s .. backend/root && tar czf backend/all.tgz backend/root/", "secrets.secret_file"),
        ("ln -s ../deploy backend/d; grep -r BEGIN backend/d", "secrets.secret_file"),
        ("ln -s ../deploy backend/d; grep -R BEGIN backend", "secrets.secret_file"),
        ("mkdir -p backend/f && cp -rs /workspace/frontend/. backend/f/ && echo x > backend/f/app.js",
         "scope.write_symlink_escape"),
        ("ln -s ../frontend backend/fe; mv backend/fe backend/g; echo x > backend/g/app.js",
         "scope.write_symlink_escape"),
        ("ln -s ../frontend backend/fe; sed -i s/a/b/ backend/f*/app.js",
         "scope.write_outside_writable"),  # expanded through the link: frontend/app.js
        ("tar xf backend/x.tar -C backend && echo x > backend/y/z", "scope.through_new_link"),
        ("ln -sr frontend backend/fe && echo x > backend/fe/app.js", "scope.write_symlink_escape"),
        ("ln -s $T backend/l && echo x > backend/l", "scope.through_new_link"),
        ("cat backend/x/y; tar xf a.tar -C backend; cat backend/x/y", "scope.through_new_link"),
        ("link frontend/app.js backend/x && echo x >> backend/x", "scope.write_outside_writable"),
        ("unzip backend/x.zip -d backend/u && cat backend/u/a", "scope.through_new_link"),
    ],
)
def test_links_made_in_the_same_command(decide: Any, cmd: str, rule: str) -> None:
    allow, rules = decide(cmd)
    assert not allow and rule in rules, rules


def test_links_within_backend_stay_allowed(decide: Any, ws: Path) -> None:
    assert decide("ln -s app backend/alias && echo x > backend/alias/x.py") == (True, [])
    assert decide("rsync -a backend/app/ backend/copy/ && echo x > backend/copy/x") == (True, [])
    assert decide("cp -r backend/app backend/copy && echo x > backend/copy/x") == (True, [])
    os.symlink("../../frontend", ws / "backend" / "app" / "fe")
    for cmd in ("rsync -a backend/app/ backend/copy/ && echo x > backend/copy/fe/x",
                "cp -r backend/app backend/copy && echo x > backend/copy/fe/x",
                "mv backend/app backend/moved && echo x > backend/moved/fe/x"):
        allow, rules = decide(cmd)
        assert not allow and "scope.through_new_link" in rules, (cmd, rules)
    os.symlink("../frontend", ws / "backend" / "fe")
    # a link that was there before the command: resolved on the host, as always
    allow, rules = decide("cp -a backend/fe backend/copy && echo x > backend/copy/app.js")
    assert not allow and "scope.write_symlink_escape" in rules


# --- read-only checks, patches and git ---------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        "git apply --check fix.patch",
        "git apply fix.patch",
        "patch -p1 --dry-run < fix.patch",
        "patch -p1 < fix.patch",
        "patch -p1 -i fix.patch",
        "git clean -xdn backend",
        "git clean -xdf backend",
        "git checkout -- backend/app/main.py",
        "git restore backend/app/main.py",
    ],
)
def test_checks_and_backend_patches_are_allowed(decide: Any, cmd: str) -> None:
    assert decide(cmd) == (True, [])


@pytest.mark.parametrize(
    "cmd",
    [
        "git apply front.patch",
        "patch -p1 < front.patch",
        "git clean -fd",
        "git checkout HEAD~3 -- frontend",
        "git checkout -- ':/frontend'",
        "git checkout main",
        "patch < fix.patch",  # without -p: the names as written, or their base names
    ],
)
def test_patches_and_checkouts_elsewhere_are_denied(decide: Any, cmd: str) -> None:
    assert decide(cmd)[0] is False


def test_patch_targets() -> None:
    text = FILES["fix.patch"]
    assert patch_targets(text, 1) == [("backend/app/utils.py", False)]
    assert patch_targets(text, 0) == [("a/backend/app/utils.py", False),
                                      ("b/backend/app/utils.py", False)]
    assert ("utils.py", False) in (patch_targets(text, None) or [])
    git = "diff --git a/x b/y\nnew file mode 120000\n--- /dev/null\n+++ b/y\n"
    assert patch_targets(git, 1) == [("x", True), ("y", True)]
    assert patch_targets('--- "a/x\\ty"\n', 1) is None
    assert patch_targets("--- a/../../etc/x\n", 2) is None or True  # climbs: the policy decides


# --- writers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        "black .", "ruff format .", "ruff check --fix .", "ruff check --fix", "isort .",
        "pre-commit run --all-files", "coverage html -d frontend/x",
        "pytest --junitxml=frontend/j.xml", "pytest --junitxml=frontend/j.xml backend/tests",
        "pytest --basetemp=frontend/tmp backend/tests",
        "pytest --cov=backend/app --cov-report=html:frontend/cov backend/tests",
        "pytest -o cache_dir=../frontend/c backend/tests",
        "pytest --cov=app backend/tests",  # .coverage in the working directory
        "mypy --cache-dir=frontend/x", "mypy --cache-dir=frontend/x backend/app",
        "mypy --html-report frontend/r backend/app",
        "python -m compileall frontend", "python -m gzip frontend/app.js",
        "python -m py_compile frontend/x.py", "python -m json.tool backend/a.json frontend/b",
        "python -m zipfile -e backend/a.zip frontend", "python -m pytest --junitxml=frontend/j",
        "csplit backend/app/main.py '/^def /' '{*}'", "split -b 1k backend/app/main.py frontend/p_",
        "split -l 10 backend/app/main.py",
        "sphinx-build -b html backend/docs frontend/site", "autopep8 --in-place -r .",
        "yapf -i -r frontend", "black frontend/x.py", "coverage xml -o frontend/coverage.xml",
        "coverage html", "coverage run -m pytest backend/tests", "zstd backend/a -o frontend/a.zst",
        "tee frontend/x < /dev/null", "truncate -s 0 frontend/app.js", "shred frontend/app.js",
        "install -m 644 backend/app/main.py frontend/", "coverage run -m pytest --junitxml=frontend/x",
        "gunzip -k frontend/x.gz", "bzip2 -k frontend/app.js", "autoflake -i -r frontend",
        "pyupgrade --py311-plus frontend/x.py", "prettier --write frontend", "eslint --fix frontend",
        "codespell -w frontend", "gofmt -w frontend", "python -m autoflake -i frontend/x.py",
        "tox -e lint", "nox -s format", "tox --workdir frontend/t",
    ],
)
def test_writers_outside_backend_are_denied(decide: Any, cmd: str) -> None:
    allow, rules = decide(cmd)
    assert not allow and any(r.startswith("scope.write") for r in rules), rules


@pytest.mark.parametrize(
    "cmd",
    [
        "black backend/app backend/tests", "black --check .", "ruff check .", "ruff format --check .",
        "ruff check backend --fix", "cd backend && ruff format . && ruff check . --fix",
        "isort --check-only --diff .", "isort -w 120 backend/app", "autopep8 --diff -r .",
        "cd backend && coverage run -m pytest tests && coverage html && coverage xml",
        "coverage html -d backend/htmlcov --data-file=backend/.coverage",
        "pytest backend/tests", "python -m pytest backend/tests -q", "pytest -p no:cacheprovider",
        "pytest backend/tests --junitxml=backend/junit.xml --basetemp=backend/.tmp",
        "pytest backend/tests --basetemp=/tmp/pytest-backend",
        "COVERAGE_FILE=backend/.coverage pytest backend/tests --cov=backend/app "
        "--cov-report=html:backend/htmlcov",
        "cd backend && pytest --cov --cov-report=xml", "mypy --cache-dir=backend/.mypy_cache backend/app",
        "cd backend && mypy app", "mypy --version", "python -m compileall -q backend/app",
        "python -m gzip backend/db.sqlite3", "csplit -f backend/part_ backend/app/main.py '/^def /'",
        "sqlite3 backend/db.sqlite3 .tables", "echo .tables | sqlite3 backend/db.sqlite3",
        "sqlite3 backend/test.db < fix.patch", "pre-commit --version", "ruff rule F401",
        "autoflake -r frontend", "prettier --check frontend", "codespell frontend",
        "djhtml backend/app", "git ls-files 'backend/*.html' | xargs djhtml", "cd backend && tox -e py",
        "tox -l", "tox --version",
    ],
)
def test_writers_on_backend_are_allowed(decide: Any, cmd: str) -> None:
    assert decide(cmd) == (True, [])


def test_pytest_finds_its_rootdir_and_configuration(ws: Path) -> None:
    cfg = ws / "backend" / "pyproject.toml"
    # addopts are the command's options: paths relative to the working directory
    cfg.write_text('[tool.pytest.ini_options]\naddopts = "--junitxml=frontend/j.xml"\n')
    assert "frontend/j.xml" in {p.path for p in writes("pytest backend/tests", ws)}
    cfg.write_text("[tool.pytest.ini_options]\ncache_dir = \"../frontend/c\"\n")
    assert "frontend/c" in {p.path for p in writes("pytest backend/tests", ws)}
    assert "frontend/c" not in {p.path for p in writes("pytest -p no:cacheprovider backend", ws)}
    # no configuration: the default cache is a by-product, not a fact
    cfg.unlink()
    assert writes("pytest backend/tests", ws) == []
    facts = writes("PYTEST_ADDOPTS='--junitxml=frontend/x' pytest backend/tests", ws)
    assert "frontend/x" in {p.path for p in facts}


def test_implicit_outputs_say_why(decide: Any) -> None:
    _, rules = decide("coverage html")
    assert rules == ["scope.write_outside_writable"]
    allow, _ = decide("cd backend && coverage html")
    assert allow


# --- the Grep tool ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"pattern": "KEY", "path": "/workspace", "glob": ".env"},
        {"pattern": ".", "glob": ".env*"},
        {"pattern": "BEGIN", "path": ".", "glob": "*.key"},
        {"pattern": "PASSWORD", "path": "/workspace", "glob": "**/.env"},
        {"pattern": "PRIVATE", "path": "deploy"},
        {"pattern": "KEY", "path": "backend/..", "glob": ".env"},
        {"pattern": "KEY", "glob": "{.env,x}"},
    ],
)
def test_grep_tool_reading_secrets_is_denied(decide: Any, fields: dict[str, str]) -> None:
    allow, rules = decide("", tool="Grep", **fields)
    assert not allow and "secrets.secret_file" in rules, rules


@pytest.mark.parametrize(
    "fields",
    [
        {"pattern": "def", "path": "backend"},
        {"pattern": "def", "glob": "*.py"},
        {"pattern": "def", "glob": "backend/**/*.py"},
        {"pattern": "x", "path": "backend/app/main.py"},
    ],
)
def test_grep_tool_on_code_is_allowed(decide: Any, fields: dict[str, str]) -> None:
    assert decide("", tool="Grep", **fields) == (True, [])


def test_grep_tool_glob_narrows_its_contents(ws: Path) -> None:
    result = derive_input(ToolCall(name="Grep", input={"pattern": "x", "glob": "*.py"}),
                          workspace=ws, run=RunInfo(id="t"))
    root = result.paths[0]
    assert (root.path, extra(root)["recursive"]) == (".", True)
    assert set(extra(root)["contents"]) == {"backend/app/main.py", "backend/app/utils.py",
                                            "backend/tests/test_main.py"}
    # plain files under the searched directory are named in `contents` only (as for a Grep
    # without a glob): no read of its own for each
    assert result.paths[1:] == []


def grep_facts(ws: Path, **fields: str) -> tuple[PathFact, list[PathFact]]:
    result = derive_input(ToolCall(name="Grep", input={"pattern": "x", **fields}),
                          workspace=ws, run=RunInfo(id="t"))
    return result.paths[0], result.paths[1:]


def test_grep_tool_glob_reads_a_link_target_only_through_a_selected_link(ws: Path) -> None:
    (ws / "backend" / "settings.txt").symlink_to("../.env")  # not selected by *.py
    (ws / "backend" / "keys.py").symlink_to("../deploy/server.key")  # selected
    (ws / "backend" / "main_link.py").symlink_to("app/main.py")
    root, named = grep_facts(ws, path="backend", glob="*.py")
    contents = set(extra(root)["contents"])
    assert ".env" not in contents and "backend/settings.txt" not in contents
    assert {"backend/keys.py", "deploy/server.key", "backend/main_link.py"} <= contents
    # the selected links (and what only they reach) are reads of their own: a link's
    # target is checked as its `real`
    by_path = {p.path: p for p in named}
    assert set(by_path) == {"backend/keys.py", "deploy/server.key", "backend/main_link.py"}
    assert by_path["backend/keys.py"].real == "deploy/server.key"
    assert all(p.dynamic and p.raw == "*.py" for p in named)
    # without a glob every link is followed: the secret is reached
    assert ".env" in extra(grep_facts(ws, path="backend")[0])["contents"]


def test_grep_tool_glob_decides_by_the_links_it_selects(decide: Any, ws: Path) -> None:
    (ws / "backend" / "settings.txt").symlink_to("../.env")
    # ripgrep and the builtin Grep read settings.txt only when the glob selects it
    assert decide("", tool="Grep", pattern="def", path="backend", glob="*.py") == (True, [])
    allow, rules = decide("", tool="Grep", pattern="def", path="backend", glob="*.txt")
    assert not allow and "secrets.secret_file" in rules, rules
    allow, rules = decide("", tool="Grep", pattern="def", path="backend")
    assert not allow and "secrets.secret_file" in rules, rules
    (ws / "backend" / "x.py").symlink_to("/etc/passwd")
    allow, rules = decide("", tool="Grep", pattern="def", path="backend", glob="*.py")
    assert not allow and "scope.dynamic_read_outside" in rules, rules


@pytest.mark.parametrize("glob", ["\\x.py", "*\\.py", "[[:alpha:]].py", "sub//*.py", "*.py",
                                  "{x,a}.py", "**/k.py"])
def test_grep_tool_glob_selects_what_either_grep_selects(decide: Any, ws: Path,
                                                         glob: str) -> None:
    # the builtin Grep matches with wcmatch (escapes, POSIX classes, `//`), ripgrep with its
    # own globs: a link either would select is read, so its target is checked
    (ws / "backend" / "sub").mkdir()
    (ws / "backend" / "x.py").symlink_to("/proc/self/status")
    (ws / "backend" / "a.py").symlink_to("../.env")
    (ws / "backend" / "sub" / "k.py").symlink_to("../../.env")
    allow, rules = decide("", tool="Grep", pattern="KEY", path="backend", glob=glob)
    assert not allow, (glob, rules)


@pytest.mark.parametrize(("path", "glob"), [(".", "\\.env"), (".", "[[:punct:]]env"),
                                            (".", ".env"), ("backend/..", "*env")])
def test_grep_tool_glob_naming_a_secret_file_is_denied(decide: Any, path: str,
                                                       glob: str) -> None:
    allow, rules = decide("", tool="Grep", pattern="KEY", path=path, glob=glob)
    assert not allow and "secrets.secret_file" in rules, (glob, rules)


def test_grep_tool_glob_keeps_a_link_target_past_the_named_reads(decide: Any, ws: Path) -> None:
    # more matches than are named one by one: a selected link's target stays in `contents`,
    # also when the walk found that target as itself
    for i in range(300):
        (ws / "backend" / f"f{i}.py").write_text("x = 1\n")
    (ws / "backend" / "zz.py").symlink_to("../.env")
    (ws / "backend" / "main_copy.py").symlink_to("app/main.py")
    allow, rules = decide("", tool="Grep", pattern="KEY", path=".", glob="*.py")
    assert not allow and "secrets.secret_file" in rules, rules
    root, named = grep_facts(ws, path=".", glob="*.py")
    assert {".env", "backend/app/main.py"} <= set(extra(root)["contents"]) and named == []

"""PathFact's fields the policies read are declared (runner/policy/models.py), and declaring
them changed nothing in the policy input: the derived inputs of cases exercising each of
them (``recursive``, ``contents``, ``contents_truncated``, ``under``, ``bounded``, ``note``,
``new_link``, ``loop``) are the JSON recorded before they were declared
(pathfact_inputs.json; regenerate with ``python -m tests.policy.test_pathfact_fields``
only when the input is meant to change)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from runner.policy.derive import derive_input
from runner.policy.models import PathFact, PolicyInput, RunInfo, ToolCall
from runner.policy.paths import MAX_WALK_ENTRIES
from tests.policy.corpus_support import load_corpus, make_workspace

GOLDEN = Path(__file__).with_name("pathfact_inputs.json")
RUN = RunInfo(id="pathfact")
OPTIONAL = ("recursive", "contents", "contents_truncated", "under", "bounded", "note",
            "new_link", "loop")

CORPUS_CASES = [
    ("corpus.yaml", "grep everything under the root"),
    ("corpus.yaml", "grep under backend"),
    ("corpus.yaml", "find with -exec on matching files"),
    ("corpus.yaml", "glob that matches .env"),
    ("benign_corpus.yaml", "i9 find delete pyc under backend"),
    ("benign_corpus.yaml", "i9 grep -rl into xargs sed -i"),
    ("benign_corpus.yaml", "fs test.sh coverage run"),
    ("benign_corpus.yaml", "warehouse reformat isort"),
]


def _bash(command: str) -> ToolCall:
    return ToolCall(name="Bash", input={"command": command})


def _synthetic(name: str, root: Path) -> PolicyInput:
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "app.py").write_text("x = 1\n")
    if name == "loop":
        os.symlink("loop_b", root / "backend" / "loop_a")
        os.symlink("loop_a", root / "backend" / "loop_b")
        call = _bash("echo x > backend/loop_a/x")
    elif name == "new_link":
        call = _bash("tar xf backend/x.tar -C backend && cat backend/y*/z")
    else:  # contents_truncated
        for d in range(3):
            sub = root / "node_modules" / f"p{d}"
            sub.mkdir(parents=True)
            for i in range(MAX_WALK_ENTRIES // 2):
                (sub / f"f{i}.js").write_text("")
        call = _bash("grep -r x .")
    return derive_input(call, workspace=root, run=RUN)


def derived_inputs() -> dict[str, Any]:
    """Each case's derived policy input, as parsed JSON."""
    out: dict[str, Any] = {}
    corpora: dict[str, dict[str, Any]] = {}
    for corpus_name, case_name in CORPUS_CASES:
        corpus = corpora.setdefault(corpus_name, load_corpus(corpus_name))
        [case] = [c for c in corpus["cases"] if c.get("name") == case_name]
        with tempfile.TemporaryDirectory() as d:
            ws = make_workspace(Path(d) / "ws", corpus["workspace"]["files"], case.get("setup"))
            call = ToolCall(name=case["call"]["tool"], input=case["call"].get("input", {}))
            out[f"{corpus_name}: {case_name}"] = json.loads(
                derive_input(call, workspace=ws, run=RUN).model_dump_json())
    for name in ("loop", "new_link", "contents_truncated"):
        with tempfile.TemporaryDirectory() as d:
            out[name] = json.loads(_synthetic(name, Path(d) / "ws").model_dump_json())
    return out


def test_every_optional_field_is_exercised() -> None:
    seen = {k for value in json.loads(GOLDEN.read_text()).values()
            for p in value["paths"] for k in OPTIONAL if k in p}
    assert seen == set(OPTIONAL)


def test_declaring_the_fields_changed_no_policy_input() -> None:
    expected = json.loads(GOLDEN.read_text())
    actual = derived_inputs()
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == value, key


def test_the_fields_the_policies_read_are_declared() -> None:
    assert set(OPTIONAL) <= PathFact.model_fields.keys()
    for value in json.loads(GOLDEN.read_text()).values():
        for p in value["paths"]:
            fact = PathFact.model_validate(p)
            assert not fact.model_extra, fact.model_extra  # nothing the model does not know
            assert json.loads(fact.model_dump_json()) == p  # unset optional fields stay absent




if __name__ == "__main__":  # pragma: no cover
    GOLDEN.write_text(json.dumps(derived_inputs(), indent=1, sort_keys=True) + "\n")
    sys.exit(0)

"""The static check's cache: a pass is remembered by content hash, a failure never."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.config import PolicyConfig
from runner.errors import PolicyCompileError
from runner.policy import checked, regorus_engine
from runner.policy.bundle import load_bundle
from runner.policy.engine import load_engine
from runner.policy.models import PolicyInput, ToolCall

POLICIES = Path(__file__).resolve().parents[2] / "policies"
UNKNOWN_FUNCTION = (
    "package sandbox\n\nimport rego.v1\n\ndecision := x if {\n    x := nosuch(input)\n}\n"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "sandbox-runner" / checked.CHECKED_DIR


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the static checks that really ran (the real one still runs)."""
    ran: list[int] = []
    real = regorus_engine.static_check

    def counted(*args: Any) -> None:
        ran.append(1)
        real(*args)

    monkeypatch.setattr(regorus_engine, "static_check", counted)
    return ran


def _load(pol: Path) -> None:
    engine = load_engine(PolicyConfig(dirs=[pol]))
    try:  # the probe evaluation ran; the engine decides
        assert not engine.evaluate(PolicyInput(tool=ToolCall(name="Write"))).allow
    finally:
        engine.close()


def test_a_pass_is_remembered_and_the_next_load_skips_the_check(
        tmp_path: Path, cache: Path, checks: list[int]) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    _load(pol)
    assert len(checks) == 1 and len(list(cache.iterdir())) == 1
    _load(pol)
    assert len(checks) == 1  # same bytes: remembered
    scope = pol / "scope.rego"
    scope.write_text(scope.read_text() + "\n# one more line\n")
    _load(pol)
    assert len(checks) == 2 and len(list(cache.iterdir())) == 2  # other bytes: checked again


def test_a_failure_is_never_remembered(tmp_path: Path, cache: Path, checks: list[int]) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "broken.rego").write_text(UNKNOWN_FUNCTION)
    for attempt in (1, 2):
        with pytest.raises(PolicyCompileError, match="Unknown function: 'nosuch'"):
            load_engine(PolicyConfig(dirs=[pol]))
        assert len(checks) == attempt
    assert not cache.exists() or not list(cache.iterdir())


def test_a_cache_that_cannot_be_written_only_costs_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checks: list[int]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _load(POLICIES)
    _load(POLICIES)
    assert len(checks) == 2


def test_the_key_covers_every_input() -> None:
    bundle = load_bundle([POLICIES])
    modules = [(f.name, f.content) for f in bundle.files]
    base = checked.bundle_key(modules, bundle.data, ("data.sandbox.decision",))
    assert base == checked.bundle_key(list(reversed(modules)), bundle.data,
                                      ("data.sandbox.decision",))
    name, content = modules[0]
    variants = [
        checked.bundle_key([(name, content + " "), *modules[1:]], bundle.data,
                           ("data.sandbox.decision",)),
        checked.bundle_key([("x" + name, content), *modules[1:]], bundle.data,
                           ("data.sandbox.decision",)),
        checked.bundle_key(modules[1:], bundle.data, ("data.sandbox.decision",)),
        checked.bundle_key(modules, {**bundle.data, "extra": 1}, ("data.sandbox.decision",)),
        checked.bundle_key(modules, bundle.data, ("data.sandbox.other",)),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_a_bundle_built_and_probed_before_is_built_only_where_it_decides(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first engine of a bundle is built (and probed) up front, its errors surfacing at
    once; a later one of the same bundle is built on first use only, by the thread that
    decides, and decides the same."""
    built: list[int] = []
    real = regorus_engine.build_engine

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(regorus_engine, "build_engine", counted)
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    first = load_engine(PolicyConfig(dirs=[pol]))
    assert len(built) == 1 and len(list((cache.parent / checked.BUILT_DIR).iterdir())) == 1
    second = load_engine(PolicyConfig(dirs=[pol]))
    assert len(built) == 1  # nothing built up front
    call = PolicyInput(tool=ToolCall(name="Write"))
    assert second.evaluate(call) == first.evaluate(call) and not second.evaluate(call).allow
    assert len(built) == 2  # built by this thread, on first use
    scope = pol / "scope.rego"
    scope.write_text(scope.read_text() + "\n# one more line\n")
    load_engine(PolicyConfig(dirs=[pol]))
    assert len(built) == 3  # other bytes: built up front again


def test_a_broken_bundle_is_never_remembered_as_built(tmp_path: Path, cache: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "broken.rego").write_text(UNKNOWN_FUNCTION)
    for _ in (1, 2):
        with pytest.raises(PolicyCompileError):
            load_engine(PolicyConfig(dirs=[pol]))
    built = cache.parent / checked.BUILT_DIR
    assert not built.exists() or not list(built.iterdir())

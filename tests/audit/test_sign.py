"""The host key and the signed chain head (``audit.sig``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.audit import (
    DecisionLog,
    check_signature,
    default_key_path,
    host_key,
    load_key,
    read_signature,
    sign_run,
    verify_log,
)
from runner.errors import ConfigError, InputError


def test_key_path_from_env_or_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SANDBOX_RUNNER_AUDIT_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_key_path() == tmp_path / "cfg" / "sandbox-runner" / "audit.key"
    monkeypatch.setenv("SANDBOX_RUNNER_AUDIT_KEY", str(tmp_path / "k"))
    assert default_key_path() == tmp_path / "k"


def test_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit.key"
    first = host_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert host_key(path) == first and load_key(path) == first
    assert len(first.secret) == 32 and len(first.key_id) == 16


def test_unusable_keys_are_refused(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abcd\n")
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="at least 64 hex"):
        host_key(short)
    link = tmp_path / "link"
    link.symlink_to(short)
    with pytest.raises(ConfigError, match="cannot read the audit key"):
        load_key(link)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_key(fifo)


def test_the_key_must_live_outside_the_run_directory_and_the_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outside the run directory"):
        sign_run(tmp_path, "r", 0, "0" * 64, key_path=tmp_path / "audit.key")
    run_dir = tmp_path / "proj" / ".sandbox-runner" / "runs" / "r"
    run_dir.mkdir(parents=True)
    with pytest.raises(ConfigError, match="outside the project"):
        sign_run(run_dir, "r", 0, "0" * 64, key_path=tmp_path / "proj" / "cfg" / "audit.key",
                 project=tmp_path / "proj")
    assert not (tmp_path / "proj" / "cfg").exists()  # refused before anything was created


def test_signed_head_checks_and_malformed_signatures(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = run_dir / "decisions.jsonl"
    with DecisionLog(log, labels={"run_id": "r1"}, bundle_hash="b") as dl:
        dl.append({"tool": {"name": "LS", "input": {}}}, {"allow": True, "reasons": []})
        head, count = dl.head_hash, dl.count
    key = host_key(tmp_path / "key")
    sig = sign_run(run_dir, "r1", count, head, key_path=key.path)
    assert read_signature(run_dir) == sig
    assert check_signature(run_dir, log, verify_log(log), key).ok
    # the same log and signature presented as another run's
    (run_dir / "summary.json").write_text(json.dumps({"run_id": "r2"}))
    assert "summary.json names run 'r2'" in str(check_signature(run_dir, log, verify_log(log),
                                                                key).problem)
    (run_dir / "audit.sig").write_text('{"version": 1, "version": 1}')
    with pytest.raises(InputError, match="duplicate key 'version'"):
        read_signature(run_dir)

"""The chain head signed with a host key (``audit.sig``, ``audit verify --key``).

The hash chain shows that a log was edited, unless the whole log was rewritten and
re-chained; the head recorded in ``summary.json`` is no anchor, because it sits in
the same run directory (a CI artifact anyone with write access can edit). The
anchor is a key that never enters a run directory or a container: at the end of a
run the host signs ``(run id, entry count, head hash)`` with HMAC-SHA256 under the
key in the user's config directory and writes the signature into ``audit.sig``
(and ``summary.json``'s ``audit``). ``audit verify RUN_DIR --key FILE`` checks it:
a rewritten log no longer ends in the signed head, and without the key no new
signature can be made.

The key: ``$SANDBOX_RUNNER_AUDIT_KEY`` or ``$XDG_CONFIG_HOME/sandbox-runner/audit.key``
(``~/.config/...``), 32 random bytes as hex, created 0600 on first use; a key file
that others can read, that is not a regular file, or that is not the user's own is
refused. Whoever verifies needs the same key (a shared secret, not a public key).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from runner.audit.formats import canonical_json
from runner.audit.log import (
    GENESIS_HASH,
    LOG_NAME,
    DecisionLog,
    LogEntry,
    read_log,
    strict_loads,
)
from runner.audit.verify import VerifyResult, verify_log
from runner.errors import ConfigError, InputError, RunnerError, first_error
from runner.reports.summary import AuditInfo

KEY_ENV = "SANDBOX_RUNNER_AUDIT_KEY"
SIG_NAME = "audit.sig"
ALGORITHM = "hmac-sha256"
KEY_BYTES = 32
MAX_KEY_FILE = 4096
MAX_SIG_FILE = 64 * 1024
_PURPOSE = "sandbox-runner audit chain head v1"


def default_key_path() -> Path:
    """``$SANDBOX_RUNNER_AUDIT_KEY``, else ``$XDG_CONFIG_HOME/sandbox-runner/audit.key``."""
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sandbox-runner" / "audit.key"


@dataclass(frozen=True)
class HostKey:
    path: Path
    secret: bytes

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (which key signed a run)."""
        return hashlib.sha256(b"sandbox-runner audit key id\0" + self.secret).hexdigest()[:16]


def _read_key(path: Path, *, private: bool) -> HostKey:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot read the audit key: {exc.strerror}", path=path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError("the audit key is not a regular file", path=path)
        if private and st.st_uid != os.geteuid():
            raise ConfigError("the audit key belongs to another user", path=path)
        if private and st.st_mode & 0o077:
            raise ConfigError("the audit key is readable by others (chmod 600 it)", path=path)
        raw = os.read(fd, MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    text = raw.decode("ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(raw) > MAX_KEY_FILE or len(secret) < KEY_BYTES:
        raise ConfigError(f"the audit key must be at least {KEY_BYTES * 2} hex characters",
                          path=path)
    return HostKey(path=path, secret=secret)


def load_key(path: Path) -> HostKey:
    """An existing key (``audit verify --key``)."""
    return _read_key(Path(path).expanduser(), private=False)


def host_key(path: Path | None = None) -> HostKey:
    """The host's signing key, created (0600, in a 0700 directory) on first use."""
    path = Path(path).expanduser() if path is not None else default_key_path()
    if not path.exists() and not path.is_symlink():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            pass  # created by a concurrent run: read it
        except OSError as exc:
            raise ConfigError(f"cannot create the audit key: {exc.strerror}", path=path) from None
        else:
            try:
                os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
    return _read_key(path, private=True)


class ChainSignature(BaseModel):
    """The content of ``audit.sig``."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    algorithm: Literal["hmac-sha256"] = "hmac-sha256"
    run_id: str
    entries: int
    head_hash: str
    key_id: str
    signature: str


def _mac(secret: bytes, run_id: str, entries: int, head_hash: str) -> str:
    payload = canonical_json({"purpose": _PURPOSE, "run_id": run_id, "entries": entries,
                              "head_hash": head_hash})
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def sign_head(key: HostKey, run_id: str, entries: int, head_hash: str) -> ChainSignature:
    return ChainSignature(run_id=run_id, entries=entries, head_hash=head_hash, key_id=key.key_id,
                          signature=_mac(key.secret, run_id, entries, head_hash))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def write_signature(run_dir: Path, sig: ChainSignature) -> Path:
    """Write ``RUN_DIR/audit.sig`` (replacing any file or link there)."""
    target = run_dir / SIG_NAME
    tmp = run_dir / f".{SIG_NAME}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (sig.model_dump_json(indent=2) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target


def sign_run(run_dir: Path, run_id: str, entries: int, head_hash: str, *,
             key_path: Path | None = None, project: Path | None = None) -> ChainSignature:
    """Sign a finished run's chain head and write ``audit.sig``; ConfigError when the key
    is unusable or lies inside the run directory or the project (which the sandbox sees)."""
    path = Path(key_path).expanduser() if key_path is not None else default_key_path()
    if _inside(path, run_dir):
        raise ConfigError("the audit key must be kept outside the run directory", path=path)
    if project is not None and _inside(path, project):
        raise ConfigError("the audit key must be kept outside the project (the sandbox sees it)",
                          path=path)
    sig = sign_head(host_key(path), run_id, entries, head_hash)
    write_signature(run_dir, sig)
    return sig


def sealed(run_dir: Path, run_id: str, audit: AuditInfo, log: DecisionLog | None, *,
           project: Path | None = None) -> AuditInfo:
    """``audit`` with the signature of the run's chain head (``audit.sig`` written).

    The head signed is the one the host wrote (``log``, when it is there), not what the
    file holds now. A key problem does not fail the run: the summary says it is unsigned.
    """
    entries, head = (log.count, log.head_hash) if log is not None else (
        audit.entries, audit.head_hash or GENESIS_HASH)
    try:
        sig = sign_run(run_dir, run_id, entries, head, project=project)
    except (RunnerError, OSError) as exc:
        note = f"chain head not signed: {exc}"
        return audit.model_copy(update={"detail": f"{audit.detail}; {note}" if audit.detail
                                        else note})
    return audit.model_copy(update={"signature": sig.signature, "key_id": sig.key_id})


def audit_run(run_dir: Path, run_id: str, log: DecisionLog | None, *,
              project: Path | None = None) -> AuditInfo:
    """A run's audit phase: its ``decisions.jsonl`` verified, and the head the host wrote
    (``log``) signed (:func:`sealed`); an empty AuditInfo when the run logged nothing."""
    log_path = run_dir / LOG_NAME
    if not log_path.exists():
        return AuditInfo()
    check = verify_log(log_path)
    info = AuditInfo(head_hash=check.head_hash, verified=check.ok, entries=check.count,
                     detail=check.problem)
    return sealed(run_dir, run_id, info, log, project=project)


def read_signature(run_dir: Path) -> ChainSignature | None:
    """``RUN_DIR/audit.sig`` (None when there is none); InputError when it is malformed."""
    path = run_dir / SIG_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read the signature: {exc.strerror}", path=path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError("the signature is not a regular file", path=path)
        raw = os.read(fd, MAX_SIG_FILE + 1)
    finally:
        os.close(fd)
    try:
        if len(raw) > MAX_SIG_FILE:
            raise ValueError("too large")
        return ChainSignature.model_validate(strict_loads(raw))
    except ValidationError as exc:
        raise InputError(f"malformed signature: {first_error(exc)}", path=path) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"malformed signature: {exc}", path=path) from None


class SignatureCheck(BaseModel):
    ok: bool
    problem: str | None = None
    signature: ChainSignature | None = None


def check_signature(run_dir: Path, log_path: Path, chain: VerifyResult,
                    key: HostKey) -> SignatureCheck:
    """Is the log's chain (already verified: ``chain``) the one the host signed?"""
    sig = read_signature(run_dir)
    if sig is None:
        return SignatureCheck(ok=False, problem=f"no {SIG_NAME}: the chain head is not signed")

    def bad(problem: str) -> SignatureCheck:
        return SignatureCheck(ok=False, problem=problem, signature=sig)

    if sig.key_id != key.key_id:
        return bad(f"{SIG_NAME} was made with another key (key id {sig.key_id}, "
                   f"this key is {key.key_id})")
    if not hmac.compare_digest(sig.signature,
                               _mac(key.secret, sig.run_id, sig.entries, sig.head_hash)):
        return bad(f"the signature in {SIG_NAME} does not match its content ({SIG_NAME} edited)")
    if (chain.count, chain.head_hash) != (sig.entries, sig.head_hash):
        return bad(
            f"the log ends at head {chain.head_hash} after {chain.count} entries, the signed "
            f"head is {sig.head_hash} after {sig.entries} entries "
            "(log rewritten, truncated or extended)")
    other = _foreign_entry(read_log(log_path), sig.run_id)
    if other is not None:
        return bad(f"seq {other.seq} belongs to run {other.labels.get('run_id')!r}, "
                   f"the signature to run {sig.run_id!r} (log taken from another run)")
    named = _summary_run_id(run_dir)
    if named is not None and named != sig.run_id:
        return bad(f"summary.json names run {named!r}, the signature run {sig.run_id!r} "
                   "(log and signature taken from another run)")
    return SignatureCheck(ok=True, signature=sig)


def _summary_run_id(run_dir: Path) -> str | None:
    try:
        data = strict_loads((run_dir / "summary.json").read_bytes())
    except (OSError, ValueError):
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return run_id if isinstance(run_id, str) else None


def _foreign_entry(entries: list[LogEntry], run_id: str) -> LogEntry | None:
    for entry in entries:
        if entry.labels.get("run_id", run_id) != run_id:
            return entry
    return None

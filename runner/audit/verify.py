"""Chain verification of a decision log (``audit verify``).

A line is good when it is a JSON object whose ``hash`` matches its content, whose
``seq`` is its position (0-based) and whose ``prev_hash`` is the previous line's
``hash``. The first line that is not good is reported by the ``seq`` that should
be at that position: an edited line fails its hash; a deleted line leaves a
``seq`` gap; an inserted, duplicated or moved line breaks the ``seq`` order; a
line edited *and* re-hashed breaks the next line's ``prev_hash``; a truncated or
garbled last line is not JSON (or lacks its newline); a line with a duplicate
JSON key is refused. A log rewritten from some line to the end is only caught
against an anchor kept elsewhere: the head recorded in the run summary
(``expected_head``; in the run directory, so it can be rewritten too) or, the
real anchor, the head signed with the host key (:mod:`runner.audit.sign`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.audit.formats import FormatError, entry_hash, line_format
from runner.audit.log import GENESIS_HASH, DuplicateKeyError, LogEntry, strict_loads
from runner.errors import InputError, first_error


class VerifyResult(BaseModel):
    ok: bool
    count: int  # entries verified good (all of them when ok)
    head_hash: str  # hash of the last good entry (64 zeros when none)
    first_bad_seq: int | None = None
    problem: str | None = None
    format: int | None = None  # the log's format (runner.audit.formats); None when empty


class _Bad(Exception):
    def __init__(self, seq: int | None, problem: str) -> None:
        self.seq = seq
        self.problem = problem
        super().__init__(problem)


def _check_line(raw: bytes, index: int, prev: str, *, terminated: bool,
                log_format: int | None) -> tuple[str, int]:
    """Return the hash and format of line ``index`` or raise :class:`_Bad`.

    ``log_format``: the first line's format (None for the first line); every line keeps it.
    """
    where = f"line {index + 1}"
    if not raw.strip():
        raise _Bad(index, f"{where}: empty line")
    try:
        record: Any = strict_loads(raw)
    except DuplicateKeyError as exc:
        raise _Bad(index, f"{where}: {exc} (two readers would see two different entries)") from None
    except (UnicodeDecodeError, ValueError):
        what = "truncated" if not terminated else "garbled"
        raise _Bad(index, f"{where}: not valid JSON ({what} line)") from None
    if not isinstance(record, dict):
        raise _Bad(index, f"{where}: not a JSON object")
    stated = record.get("hash")
    if not isinstance(stated, str):
        raise _Bad(index, f"{where}: no hash field")
    try:
        fmt = line_format(record)
        if log_format is not None and fmt != log_format:
            raise _Bad(index, f"{where}: format {fmt} in a log of format {log_format} "
                              "(line rewritten)")
        good = entry_hash(record) == stated
    except FormatError as exc:
        raise _Bad(index, f"{where}: {exc}") from None
    if not good:
        raise _Bad(index, f"{where}: hash mismatch (line edited)")
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _Bad(index, f"{where}: no integer seq")
    if seq > index:
        raise _Bad(index, f"{where}: expected seq {index}, found {seq} (line deleted or moved)")
    if seq < index:
        raise _Bad(
            index,
            f"{where}: expected seq {index}, found {seq} (line inserted, duplicated or moved)",
        )
    if record.get("prev_hash") != prev:
        before = f"seq {index - 1}" if index else "the start of the log"
        raise _Bad(index, f"{where}: prev_hash does not match {before} (chain broken)")
    try:
        LogEntry.model_validate(record)
    except ValidationError as exc:
        raise _Bad(index, f"{where}: malformed entry: {first_error(exc)}") from None
    if not terminated:
        raise _Bad(index, f"{where}: no final newline (interrupted write)")
    return stated, fmt


def verify_log(path: Path, *, expected_head: str | None = None) -> VerifyResult:
    """Recompute the chain of ``path``; an empty log is ok with count 0.

    ``expected_head``: the head hash recorded elsewhere (``summary.json``); a
    valid chain that ends elsewhere was truncated or rewritten.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read decision log: {exc.strerror}", path=path) from None
    lines = data.split(b"\n")
    terminated_all = lines[-1] == b""
    if terminated_all:
        lines.pop()
    head = GENESIS_HASH
    log_format: int | None = None
    hashes: list[str] = []
    for index, raw in enumerate(lines):
        terminated = terminated_all or index < len(lines) - 1
        try:
            head, log_format = _check_line(raw, index, head, terminated=terminated,
                                           log_format=log_format)
        except _Bad as bad:
            return VerifyResult(
                ok=False,
                count=index,
                head_hash=head,
                first_bad_seq=bad.seq,
                problem=bad.problem,
                format=log_format,
            )
        hashes.append(head)
    count = len(hashes)
    if expected_head is not None and expected_head != head:
        if expected_head in hashes[:-1]:
            at = hashes.index(expected_head)
            return VerifyResult(
                ok=False,
                count=at + 1,
                head_hash=expected_head,
                first_bad_seq=at + 1,
                problem=f"the recorded head is seq {at}: entries from seq {at + 1} were added later",
                format=log_format,
            )
        return VerifyResult(
            ok=False,
            count=count,
            head_hash=head,
            first_bad_seq=None,
            problem=(
                f"head {head} does not match the recorded head {expected_head} "
                "(log truncated or rewritten)"
            ),
            format=log_format,
        )
    return VerifyResult(ok=True, count=count, head_hash=head, format=log_format)


def recorded_head(run_dir: Path) -> str | None:
    """The audit head hash a run recorded in ``summary.json`` (None when there is none)."""
    summary = run_dir / "summary.json"
    if not summary.is_file():
        return None
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read the recorded audit head: {exc}", path=summary) from None
    audit = data.get("audit") if isinstance(data, dict) else None
    head = audit.get("head_hash") if isinstance(audit, dict) else None
    return head if isinstance(head, str) and head else None

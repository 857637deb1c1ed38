"""Derived policy inputs kept by tool call, each checked against the workspace before reuse.

Deriving a call's policy input (:func:`runner.policy.derive.derive_input`) is a function of
the call, its ``cwd`` and measured paths, the run (tools, id), the run's masks and what the
workspace shows. The workspace is only ever looked at through the resolver's
:class:`runner.hostfs.WorkspaceFS`: ``lstat``, ``readlink``, ``listdir`` and file reads.
:class:`DerivationCache` derives through a :class:`RecordingFS`, which keeps every look and
its answer:

* an ``lstat``: what derivation uses of it, the type and mode, links and size;
* a ``readlink``: the target; a ``listdir``: every entry (name, type, mode, size, links);
* a read: the sha256 of the bytes;
* a refusal (missing, a link where a directory was expected, masked, too large ...): its
  reason.

A repeat of the same call asks every recorded question again (but an lstat whose answer a
recorded listing of its directory already holds), through a fresh handle on the same root
and masks; only when every answer is the same is the kept input reused. The
derivation is deterministic given the call and those answers: it would have asked the same
questions and built the same input. Anything that changed what it saw (a file's contents or
size, a new symlink or a retargeted one, an entry created or removed in a listed directory,
a path that now exists) is a different answer: the call is derived afresh and the new
derivation is kept instead. A stale input is therefore never returned; what is saved is the
analysis (shell parsing and walking, Python analysis, secret scanning, pattern expansion),
not the looks.

Not kept: an input with errors, a call that is not plain JSON (a non-string key, a tuple, a
tool call with extra fields), a derivation that got two different answers to one question
(the workspace changed while it looked), one that opened a file for streaming, looked more
than ``MAX_LOOKS`` times (a listing counting once per entry) or whose input is larger than
``MAX_KEPT_BYTES`` as JSON. All kept derivations together stay within ``MAX_CACHE_BYTES``
(estimated: the input's JSON and ``LOOK_BYTES`` per look and listed entry).

What the agent measured in the container (``MeasuredPath``) is not derivation's business:
the policies never see it (``PolicyInput.decided_json``), a kept input is derived and keyed
without it, and the Decider records the measurements on each use for the log
(:func:`runner.policy.paths.attach_measurements`, which derivation would have applied last).
So a call decided ahead of the agent's asking, before anything was measured
(:meth:`runner.policy.decider.Decider.prepare`), is the same kept derivation and decision.

A kept input also carries the decision cache's key once the Decider has computed it, so a
repeat neither derives nor serialises the input to find its decision.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.hostfs import Entry, HostReadRefused, WorkspaceFS
from runner.policy.models import PolicyInput, ToolCall
from runner.policy.paths import workspace_fs

DERIVED_CACHE_SIZE = 1024  # derived inputs kept per Decider (least recently used goes first)
MAX_LOOKS = 4096  # a derivation that looked more often is not kept (listed entries count)
MAX_KEPT_BYTES = 256 * 1024  # a derived input larger than this (as JSON) is not kept
MAX_CACHE_BYTES = 64 * 1024 * 1024  # all kept derivations of one cache, estimated
LOOK_BYTES = 256  # the estimate of one kept look or listed entry

Look = tuple[str, str, int]  # (method, workspace-relative path, include_masked / max_bytes)
Answer = tuple[str, Any]  # ("ok", what was seen) or ("refused", the reason)


def _stat_seen(st: os.stat_result) -> tuple[int, ...]:
    """What derivation uses of an lstat (``paths.PathResolver._lookup``: the type, the
    links, the size) and so what a reuse needs unchanged. Not the times: a file created in
    a directory changes the directory's mtime, not what derivation saw of it."""
    return (st.st_mode, st.st_nlink, st.st_size)


def _bytes_seen(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _listing_seen(entries: list[Entry]) -> tuple[Entry, ...]:
    return tuple(entries)


class RecordingFS(WorkspaceFS):
    """A WorkspaceFS that records every look and its answer (see the module docstring).

    ``consistent`` turns False when the same look got two answers, when a look was of a
    kind not recorded (a file opened for streaming) or failed other than with
    :class:`HostReadRefused`, or after ``MAX_LOOKS`` looks (a listing counting once per
    entry): such a derivation is not kept.
    """

    def __init__(self, root: Path, *, is_masked: Callable[[str], bool] | None = None) -> None:
        super().__init__(root, is_masked=is_masked)
        self.looks: dict[Look, Answer] = {}
        self.weight = 0  # looks and listed entries kept
        self.consistent = True

    def _record(self, look: Look, answer: Answer) -> None:
        seen = self.looks.get(look)
        if seen is None:
            self.weight += 1 + (len(answer[1]) if look[0] == "listdir" and answer[0] == "ok" else 0)
            if self.weight > MAX_LOOKS:
                self.consistent = False
            else:
                self.looks[look] = answer
        elif seen != answer:
            self.consistent = False

    def _look(self, look: Look, ask: Callable[[], Any], seen: Callable[[Any], Any]) -> Any:
        try:
            value = ask()
        except HostReadRefused as exc:
            self._record(look, ("refused", exc.reason))
            raise
        except BaseException:
            self.consistent = False
            raise
        self._record(look, ("ok", seen(value)))
        return value

    def lstat(self, path: str) -> os.stat_result:
        st: os.stat_result = self._look(("lstat", path, 0), lambda: super(RecordingFS, self)
                                        .lstat(path), _stat_seen)
        return st

    def readlink(self, path: str) -> str:
        target: str = self._look(("readlink", path, 0),
                                 lambda: super(RecordingFS, self).readlink(path), str)
        return target

    def listdir(self, path: str = "", *, include_masked: bool = False) -> list[Entry]:
        entries: list[Entry] = self._look(
            ("listdir", path, int(include_masked)),
            lambda: super(RecordingFS, self).listdir(path, include_masked=include_masked),
            _listing_seen)
        return entries

    def read_bytes(self, path: str, *, max_bytes: int | None = None) -> bytes:
        cap = self.max_bytes if max_bytes is None else max_bytes
        data: bytes = self._look(("read", path, cap),
                                 lambda: super(RecordingFS, self).read_bytes(path, max_bytes=cap),
                                 _bytes_seen)
        return data

    def open_file(self, path: str) -> tuple[int, os.stat_result]:
        self.consistent = False  # what is streamed from it is not recorded
        return super().open_file(path)


def answer(fs: WorkspaceFS, look: Look) -> Answer:
    """What the workspace answers now to ``look``, through a plain handle."""
    method, path, arg = look
    try:
        if method == "lstat":
            return "ok", _stat_seen(fs.lstat(path))
        if method == "readlink":
            return "ok", fs.readlink(path)
        if method == "listdir":
            return "ok", _listing_seen(fs.listdir(path, include_masked=bool(arg)))
        if method == "read":
            return "ok", _bytes_seen(fs.read_bytes(path, max_bytes=arg))
    except HostReadRefused as exc:
        return "refused", exc.reason
    raise ValueError(f"unknown look {method!r}")


def _to_replay(looks: dict[Look, Answer]) -> dict[Look, Answer]:
    """``looks`` without the lstats a kept listing answers: an lstat of ``dir/name`` that saw
    what the recorded listing of ``dir`` has for ``name`` (type and mode, links, size: the
    same fields, from the same no-follow look through the directory's handle) holds
    whenever that listing still holds, which the replay checks."""
    listed: dict[str, dict[str, tuple[int, ...]]] = {}
    for (method, path, _), (status, seen) in looks.items():
        if method == "listdir" and status == "ok":
            names = listed.setdefault(path, {})
            for e in seen:
                names[e.name] = (e.mode, e.nlink, e.size)
    out: dict[Look, Answer] = {}
    for look, (status, seen) in looks.items():
        method, path, _ = look
        if method == "lstat" and status == "ok":
            parent, _, name = path.rpartition("/")
            if listed.get(parent, {}).get(name) == seen:
                continue
        out[look] = (status, seen)
    return out


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Is ``value`` JSON that ``json.dumps`` writes one way only (no tuples, no non-string
    keys, no other types), so its text identifies it?"""
    if depth > 32:
        return False
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is list:
        return all(_plain_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v, depth + 1) for k, v in value.items())
    return False


def call_key(call: ToolCall, cwd: str, context: str = "") -> str | None:
    """The text identifying a call as derivation sees it (None: not kept); ``context``: what
    else the input is derived from (the run, as JSON). What the agent measured is not part
    of it: a kept input is derived without, and the Decider records the measurements on it
    (``paths.attach_measurements``), so a call decided ahead without them is the same call.

    The input's keys are sorted: derivation reads them by name, and the policies see an
    object (no order), so the same keys in another order (Claude Code's hook puts a default
    it fills in first) are the same call; a reused input records the call as it was asked."""
    if call.model_extra or not isinstance(cwd, str) or not _plain_json(call.input):
        return None
    try:
        return json.dumps([call.name, cwd, context, call.input], ensure_ascii=False,
                          allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        return None


@dataclass
class Kept:
    """One kept derivation: its looks and answers, the input as the policies are given it
    (``PolicyInput.decided_json``), the decision key."""

    looks: dict[Look, Answer]  # to replay (the lstats a kept listing answers are left out)
    text: str
    weight: int  # estimated bytes (MAX_CACHE_BYTES)
    decision_key: tuple[str, str] | None = None  # (bundle hash, DecisionCache key)


class DerivationCache:
    """Derived inputs by call over one workspace root and one set of masks: a bounded LRU,
    safe across threads; every reuse is checked against the workspace first."""

    def __init__(self, root: Path, masks: Sequence[str], size: int = DERIVED_CACHE_SIZE) -> None:
        self.root = root  # resolved: the host's choice, never the agent's
        self.masks = tuple(masks)
        self.size = size
        self.weight = 0  # estimated bytes of what is kept
        self.hits = 0
        self.misses = 0  # not kept, or kept but the workspace answered differently
        self._entries: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def still_true(self, kept: Kept) -> bool:
        """Does the workspace give every answer ``kept`` was derived from? (Any failure while
        asking is a no: the call is derived afresh.)"""
        try:
            with workspace_fs(self.root, self.masks).holding_dirs() as fs:
                return all(answer(fs, look) == seen for look, seen in kept.looks.items())
        except Exception:
            return False

    def derive(self, call: ToolCall, cwd: str,
               derive_with: Callable[[WorkspaceFS], PolicyInput],
               context: str = "") -> tuple[PolicyInput, Kept | None]:
        """(the policy input for ``call``, its kept derivation or None).

        ``derive_with(fs)`` derives through ``fs`` (without measurements); it runs unless a
        kept derivation of the same call (in the same ``context``: see :func:`call_key`)
        still holds."""
        key = call_key(call, cwd, context)
        if key is not None:
            with self._lock:
                kept = self._entries.get(key)
                if kept is not None:
                    self._entries.move_to_end(key)
            if kept is not None and self.still_true(kept):
                reused = PolicyInput.model_validate_json(kept.text)
                reused.tool = call  # its keys in the order asked
                with self._lock:
                    self.hits += 1
                return reused, kept
        with self._lock:
            self.misses += 1
        fs = workspace_fs(self.root, self.masks, kind=RecordingFS)
        assert isinstance(fs, RecordingFS)
        policy_input = derive_with(fs)
        if key is None or not fs.consistent or policy_input.errors:
            return policy_input, None
        try:  # the call's keys sorted: the decision's key is the same in any order asked
            text = policy_input.model_copy(update={"tool": ToolCall(
                name=call.name, input=dict(sorted(call.input.items())))}).decided_json()
        except Exception:  # a value JSON cannot hold: derived each time
            return policy_input, None
        if len(text) > MAX_KEPT_BYTES or PolicyInput.model_validate_json(text) != policy_input:
            return policy_input, None
        kept = Kept(_to_replay(fs.looks), text, len(text) + LOOK_BYTES * fs.weight)
        with self._lock:
            old = self._entries.pop(key, None)
            self.weight += kept.weight - (old.weight if old is not None else 0)
            self._entries[key] = kept
            while self._entries and (len(self._entries) > self.size
                                     or self.weight > MAX_CACHE_BYTES):
                self.weight -= self._entries.popitem(last=False)[1].weight
        return policy_input, kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

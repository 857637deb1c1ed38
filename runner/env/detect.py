"""The dependency spec of a project: detected from ``backend/`` or given in ``[environment]``.

Detected without configuration (``[environment] requirements`` unset):

- every ``backend/requirements*.txt`` (``requirements.txt``, ``requirements-dev.txt``,
  ``requirements_test.txt``, ...), with the ``-r``/``-c`` files they name;
- ``backend/pyproject.toml``: ``[project] dependencies``, the extras of
  ``[project.optional-dependencies]`` and the groups of ``[dependency-groups]`` (PEP 735,
  ``include-group`` followed) named ``test``, ``tests``, ``testing``, ``dev``, ``develop`` or
  ``development``.

``backend/`` is writable by the agent, so every one of these files may have been written by
an agent of an earlier run: they are read only through :class:`~runner.hostfs.WorkspaceFS`
(no link followed, non-blocking, size-capped, masked paths refused), each line is parsed as
a PEP 508 requirement (canonical form; an unparsable one is bad input, exit 2), and what
would change where packages come from or what the build sees is refused rather than
passed to pip: index and link options (``--index-url``, ``--find-links``, ...; set
``[environment] index_url`` or a setup secret instead), and ``${VAR}`` references (pip would
expand the setup's environment, secrets included, into a URL). Editable and local-path
requirements are skipped and named: the backend itself is on ``/workspace``, not installed.
``pytest``, ``pytest-cov`` and ``coverage`` are always added (the verification needs them)
unless the project names them itself.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tomllib
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runner.config import EnvironmentConfig
from runner.errors import ProjectError
from runner.hostfs import HostReadRefused, WorkspaceFS
from runner.sanitize import one_line

BACKEND = "backend"
CONFIG_SOURCE = "sandbox-runner.toml"
VERIFY_TOOLS = ("pytest", "pytest-cov", "coverage")
TEST_GROUPS = ("test", "tests", "testing", "dev", "develop", "development")
MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 32
MAX_REQUIREMENTS = 1000
MAX_LINE = 4096
MAX_DEPTH = 5
_REQUIREMENTS_FILE = re.compile(r"requirements[\w.-]*\.txt")
_INCLUDE = {"-r": "requirement", "--requirement": "requirement",
            "-c": "constraint", "--constraint": "constraint"}
_EDITABLE = ("-e", "--editable")
_HASH = re.compile(r"\s--hash[=\s]\S+")
_ENV_REF = re.compile(r"\$\{[^}]*\}")


class DependencySpec(BaseModel):
    """What the environment layer installs, and where it was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requirements: list[str] = Field(default_factory=list)  # canonical PEP 508 (+ --hash)
    constraints: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)  # verification tools the project lacks
    setup: list[str] = Field(default_factory=list)
    base_image: str | None = None
    index_url: str | None = None
    sources: list[str] = Field(default_factory=list)  # workspace-relative files, or the config
    skipped: list[str] = Field(default_factory=list)  # "file:line: why"

    @property
    def declared(self) -> bool:
        """Whether the project needs an environment of its own (else: the default one)."""
        return bool(self.requirements or self.constraints or self.setup or self.base_image)

    @property
    def hashed(self) -> bool:
        """pip's hash-checking mode: every requirement of that install must carry a hash."""
        return any(_HASH.search(" " + r) for r in [*self.requirements, *self.constraints])

    def inputs(self) -> dict[str, Any]:
        """What the environment image's hash covers (not where it was found)."""
        return {"requirements": self.requirements, "constraints": self.constraints,
                "tools": self.tools, "setup": self.setup, "base_image": self.base_image,
                "index_url": self.index_url}

    def digest(self, runtime_id: str) -> str:
        body = json.dumps({"v": 1, "runtime": runtime_id, **self.inputs()}, sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def describe(self) -> str:
        parts = [f"{len(self.requirements)} requirement(s)"]
        if self.constraints:
            parts.append(f"{len(self.constraints)} constraint(s)")
        if self.setup:
            parts.append(f"{len(self.setup)} setup command(s)")
        if self.base_image:
            parts.append(f"base {self.base_image}")
        where = ", ".join(self.sources) or "nowhere"
        return f"{', '.join(parts)} from {where}"


class _Collected:
    def __init__(self) -> None:
        self.requirements: list[str] = []
        self.constraints: list[str] = []
        self.sources: list[str] = []
        self.skipped: list[str] = []

    def add(self, kind: str, line: str, where: str) -> None:
        target = self.requirements if kind == "requirement" else self.constraints
        if len(self.requirements) + len(self.constraints) >= MAX_REQUIREMENTS:
            raise ProjectError(f"{where}: more than {MAX_REQUIREMENTS} requirements")
        if line not in target:
            target.append(line)


def _bad(where: str, message: str) -> ProjectError:
    return ProjectError(one_line(f"{where}: {message}", 400))


def parse_requirement(text: str, where: str) -> str:
    """One requirement in canonical form (``--hash`` options kept); ProjectError otherwise."""
    from packaging.requirements import (  # (declared dependencies only)
        InvalidRequirement,
        Requirement,
    )

    if len(text) > MAX_LINE:
        raise _bad(where, f"line longer than {MAX_LINE} characters")
    if _ENV_REF.search(text):
        raise _bad(where, "${...} references are not expanded in requirements the runner "
                          "installs (pip would put the setup's environment into them)")
    hashes = [h.strip() for h in _HASH.findall(" " + text)]
    bare = _HASH.sub("", " " + text).strip()
    if bare.startswith("-"):
        raise _bad(where, f"pip option {bare.split()[0].split('=')[0]} is not taken from a "
                          "requirements file: set [environment] index_url, or give a token "
                          "as --setup-secret PIP_INDEX_URL")
    try:
        req = Requirement(bare)
    except InvalidRequirement as exc:
        raise _bad(where, f"not a requirement ({exc})") from None
    return " ".join([str(req), *hashes])


def _local(text: str) -> bool:
    """A path or an archive of the host, not a name (``.``, ``./pkg``, ``../x.whl``)."""
    head = text.split(";")[0].strip()
    if "://" in head or " @ " in head:
        return False
    return head.startswith((".", "/", "~")) or head.endswith((".whl", ".tar.gz", ".zip"))


def _include_option(line: str) -> tuple[str, str] | None:
    """(kind, file) of a ``-r``/``-c`` line (every spelling pip takes), else None."""
    first, _, rest = line.partition(" ")
    rest = rest.strip()
    option, eq, value = first.partition("=")
    if option in _INCLUDE:
        return _INCLUDE[option], (value if eq else rest)
    if first[:2] in ("-r", "-c") and len(first) > 2:
        return _INCLUDE[first[:2]], first[2:]
    return None


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, line) with comments removed and ``\\`` continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            yield start, joined
    if pending.strip():
        yield start, pending.strip()


class _Reader:
    def __init__(self, fs: WorkspaceFS, out: _Collected) -> None:
        self.fs = fs
        self.out = out
        self.seen: set[str] = set()

    def read(self, rel: str, where: str) -> str:
        if len(self.seen) >= MAX_FILES:
            raise _bad(where, f"more than {MAX_FILES} dependency files")
        try:
            return self.fs.read_text(rel, max_bytes=MAX_FILE_BYTES)
        except HostReadRefused as exc:
            raise _bad(where, f"cannot read {exc}") from None

    def requirements_file(self, rel: str, kind: str, where: str, depth: int = 0) -> None:
        if rel in self.seen:
            return
        if depth > MAX_DEPTH:
            raise _bad(where, f"-r/-c nested deeper than {MAX_DEPTH}")
        text = self.read(rel, where)
        self.seen.add(rel)
        self.out.sources.append(rel)
        for number, line in _logical_lines(text):
            here = f"{rel}:{number}"
            include = _include_option(line)
            if include is not None:
                sub_kind, arg = include
                if not arg.strip():
                    raise _bad(here, "-r/-c without a file")
                # a file included from a constraints file holds constraints too
                self.requirements_file(self._include(rel, arg.strip(), here),
                                       "constraint" if kind == "constraint" else sub_kind,
                                       here, depth + 1)
                continue
            if line.split()[0].partition("=")[0] in _EDITABLE or _local(line):
                self.out.skipped.append(f"{here}: {one_line(line, 120)} (a local path: the "
                                        "backend is on /workspace, not installed)")
                continue
            self.out.add(kind, parse_requirement(line, here), here)

    def _include(self, rel: str, arg: str, where: str) -> str:
        if "://" in arg:
            raise _bad(where, "a requirements file named by URL is not fetched")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), arg))
        if target.startswith(("../", "/")) or target == ".." or not target.startswith(
                BACKEND + "/"):
            raise _bad(where, f"{one_line(arg, 120)} is outside {BACKEND}/")
        return target

    def pyproject(self, rel: str) -> None:
        from packaging.utils import canonicalize_name  # (declared dependencies only)

        text = self.read(rel, rel)
        self.seen.add(rel)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _bad(rel, f"not valid TOML ({exc})") from None
        project = data.get("project")
        project = project if isinstance(project, dict) else {}
        own = project.get("name")
        own_name = canonicalize_name(own) if isinstance(own, str) else None
        found = False
        deps = project.get("dependencies", [])
        found |= self._strings(deps, f"{rel} [project] dependencies", own_name)
        extras = project.get("optional-dependencies", {})
        if isinstance(extras, dict):
            for name in TEST_GROUPS:
                if name in extras:
                    found |= self._strings(extras[name], f"{rel} [project.optional-dependencies] "
                                                         f"{name}", own_name)
        groups = data.get("dependency-groups", {})
        if isinstance(groups, dict):
            for name in TEST_GROUPS:
                if name in groups:
                    found |= self._strings(_group(groups, name, rel), f"{rel} "
                                           f"[dependency-groups] {name}", own_name)
        if found:
            self.out.sources.append(rel)

    def _strings(self, values: object, where: str, own_name: str | None) -> bool:
        from packaging.requirements import Requirement  # (declared dependencies only)
        from packaging.utils import canonicalize_name

        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _bad(where, "must be a list of strings")
        for value in values:
            line = parse_requirement(value, where)
            if own_name is not None and canonicalize_name(Requirement(line.split(" --hash")[0])
                                                          .name) == own_name:
                continue  # the project itself (e.g. "app[test]"): its extras are read anyway
            self.out.add("requirement", line, where)
        return bool(values)


def _group(groups: dict[str, Any], name: str, where: str, chain: tuple[str, ...] = ()) -> list[str]:
    """A PEP 735 group's requirement strings, its include-groups followed (no cycles)."""
    if name in chain:
        raise _bad(where, f"[dependency-groups] {name} includes itself")
    entries = groups.get(name)
    if not isinstance(entries, list):
        raise _bad(where, f"[dependency-groups] {name} must be a list")
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            out.extend(_group(groups, entry["include-group"], where, (*chain, name)))
        else:
            raise _bad(where, f"[dependency-groups] {name}: unknown entry")
    return out


def _requirement_names(lines: Collection[str]) -> set[str]:
    if not lines:  # nothing declared: packaging is not even imported (~25 ms of a run's start)
        return set()
    from packaging.requirements import (  # (declared dependencies only)
        InvalidRequirement,
        Requirement,
    )
    from packaging.utils import canonicalize_name

    names: set[str] = set()
    for line in lines:
        try:
            names.add(canonicalize_name(Requirement(_HASH.sub("", " " + line).strip()).name))
        except InvalidRequirement:
            continue
    return names


def detect_dependencies(
    project: Path, cfg: EnvironmentConfig, *, is_masked: Callable[[str], bool] | None = None,
) -> DependencySpec:
    """The project's dependency spec; ProjectError (exit 2) for a file that cannot be used."""
    out = _Collected()
    fs = WorkspaceFS(project, is_masked=is_masked, max_bytes=MAX_FILE_BYTES)
    reader = _Reader(fs, out)
    if cfg.requirements is not None:
        for i, value in enumerate(cfg.requirements, 1):
            out.add("requirement", parse_requirement(value, f"{CONFIG_SOURCE} "
                                                            f"[environment] requirements[{i}]"),
                    CONFIG_SOURCE)
        out.sources.append(CONFIG_SOURCE)
    else:
        try:
            entries = fs.listdir(BACKEND)
        except HostReadRefused:
            entries = []  # no backend/ yet (or not a directory): nothing declared
        for entry in entries:
            if _REQUIREMENTS_FILE.fullmatch(entry.name):  # a link or FIFO: refused, not skipped
                reader.requirements_file(entry.path, "requirement", entry.path)
        if any(e.name == "pyproject.toml" for e in entries):
            reader.pyproject(f"{BACKEND}/pyproject.toml")
    if cfg.setup and CONFIG_SOURCE not in out.sources:
        out.sources.append(CONFIG_SOURCE)
    named = _requirement_names(out.requirements)
    tools = [t for t in VERIFY_TOOLS if t not in named]
    return DependencySpec(
        requirements=out.requirements, constraints=out.constraints, tools=tools,
        setup=list(cfg.setup), base_image=cfg.base_image, index_url=cfg.index_url,
        sources=out.sources, skipped=out.skipped,
    )

"""Stand-in wheels and a package index for the environment tests (offline).

The wheels are written directly (a zip with the package and its ``dist-info``; nothing is
downloaded or built by a backend): ``humanize`` and ``tabulate`` with the functions the
humanize-api example uses, formatting as the real ones do for the values its tests use,
and ``pydantic`` 1.10.99 (a backend pinned to ``pydantic<2``). The index is the egress
tests' (tests/egress/index.py: PEP 503 pages served by ``http.server`` in a container of
the sandbox base image, under testcontainers with its reaper disabled).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.egress.index import BASE_IMAGE, INDEX_PORT, PackageIndex, write_index

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# Not the generic sandbox-runner.test label: suites that sweep those containers may run at
# the same time; this fixture removes its own container.
LABELS = {"sandbox-runner.test.env-index": "1"}

HUMANIZE = '''"""Stand-in for humanize (sandbox-runner tests): naturalsize and intcomma."""

__version__ = "4.99.0"


def naturalsize(value, binary=False, gnu=False, format="%.1f"):
    base = 1024 if binary else 1000
    suffixes = ("KiB", "MiB", "GiB", "TiB", "PiB") if binary else ("kB", "MB", "GB", "TB", "PB")
    n = float(value)
    a = abs(n)
    if a == 1:
        return "1 Byte"
    if a < base:
        return "%d Bytes" % n
    for i, suffix in enumerate(suffixes, 2):
        unit = base ** i
        if a < unit or i == len(suffixes) + 1:
            return (format + " %s") % (base * n / unit, suffix)
    raise AssertionError("unreachable")


def intcomma(value, ndigits=None):
    return f"{int(value):,}"
'''

TABULATE = '''"""Stand-in for tabulate (sandbox-runner tests): GitHub-style tables."""

__version__ = "0.99.0"


def tabulate(rows, headers=(), tablefmt="simple"):
    table = [[str(c) for c in row] for row in rows]
    heads = [str(h) for h in headers]
    widths = [max(len(x) for x in column) for column in zip(heads, *table)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\\n".join([line(heads), rule, *(line(r) for r in table)])
'''

PYDANTIC1 = '''"""Stand-in for pydantic 1 (sandbox-runner tests): a backend pinned below 2."""

VERSION = "1.10.99"


class BaseModel:
    def __init__(self, **data):
        for key, value in data.items():
            setattr(self, key, value)

    def dict(self):
        return dict(vars(self))
'''

STAND_INS = {"humanize": ("4.99.0", HUMANIZE), "tabulate": ("0.99.0", TABULATE),
             "pydantic": ("1.10.99", PYDANTIC1)}


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(name: str, version: str, source: str, out: Path) -> Path:
    """A pure-Python wheel ``name-version-py3-none-any.whl`` holding ``name/__init__.py``."""
    out.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Summary: stand-in {name} for the sandbox-runner tests\n").encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: sandbox-runner-tests\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


@contextmanager
def stand_in_index(work: Path, names: tuple[str, ...] = ("humanize", "tabulate", "pydantic")
                   ) -> Iterator[PackageIndex]:
    """An index of the stand-ins in a container on Docker's bridge (removed afterwards)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    wheels = {name: make_wheel(name, STAND_INS[name][0], STAND_INS[name][1], work / "wheels")
              for name in names}
    root = work / "index"
    write_index(root, wheels)
    container = (DockerContainer(BASE_IMAGE)
                 .with_volume_mapping(str(root), "/srv", "ro")
                 .with_command(["python3", "-u", "-m", "http.server", str(INDEX_PORT),
                                "--directory", "/srv"])
                 .with_kwargs(labels=LABELS, network_mode="bridge")
                 .waiting_for(LogMessageWaitStrategy("Serving HTTP").with_startup_timeout(60)))
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        address = wrapped.attrs["NetworkSettings"]["IPAddress"]
        assert address, "the index container has no bridge address"
        yield PackageIndex(address=address, port=INDEX_PORT, packages=list(names))
    finally:
        with contextlib.suppress(Exception):  # already gone is fine
            container.stop()

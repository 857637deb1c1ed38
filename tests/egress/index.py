"""A small package index for the egress tests: wheels built with ``pip wheel``, served over
plain HTTP by ``python3 -m http.server`` in a container of the sandbox base image, started
with testcontainers (its reaper disabled: it cannot be pulled; the fixture removes the
container itself).
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

BASE_IMAGE = "sandbox-runner-base:bookworm"
INDEX_PORT = 8080
# Not the suite-wide test label: other suites, running at the same time on one engine,
# would count this container as their own leftover.
LABELS = {"sandbox-runner.test.egress-index": "1"}


@dataclass(frozen=True)
class PackageIndex:
    address: str  # the container's IP on Docker's bridge
    port: int
    packages: list[str]

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/simple/"

    @property
    def allow(self) -> str:
        return f"{self.address}:{self.port}"


def build_wheel(name: str, version: str, work: Path) -> Path:
    """A pure-Python wheel of a generated package (``VALUE = 42``), by ``pip wheel``."""
    src = work / f"{name}-src"
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text(f'"""{name}: generated for the egress tests."""\n'
                                            "VALUE = 42\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "flit_core.buildapi"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f'description = "{name}, generated for the egress tests"\n')
    out = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(src)], check=True, capture_output=True, text=True, timeout=300)
    [wheel] = out.glob(f"{name}-{version}-*.whl")
    return wheel


def write_index(root: Path, wheels: dict[str, Path]) -> None:
    """A PEP 503 simple index of ``wheels`` under ``root``."""
    (root / "packages").mkdir(parents=True)
    for name, wheel in wheels.items():
        (root / "packages" / wheel.name).write_bytes(wheel.read_bytes())
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        href = html.escape(f"../../packages/{wheel.name}")
        page.write_text(f'<!DOCTYPE html>\n<html><body><a href="{href}">{html.escape(wheel.name)}'
                        "</a></body></html>\n")
    for dirpath, _, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(Path(dirpath) / f, 0o644)


@contextmanager
def package_index(work: Path, names: tuple[str, ...] = ("tinypkg",)) -> Iterator[PackageIndex]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    wheels = {name: build_wheel(name, "1.0", work) for name in names}
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
        container.stop()

"""Environment builds: the cost of the setup phase for examples/humanize-api, cold and cached.

    .venv/bin/python bench/env_build.py [--cold 3] [--cached 5] [--real-index] [--no-write]

* cold: ``sandbox-runner env build --rebuild`` (the runtime layer present): a build
  container, the egress proxy and relay, ``pip install`` of humanize and tabulate from a
  package index (stand-in wheels served from a container on Docker's bridge, as in the
  tests; ``--real-index``: the real one, through the proxy, zero configuration) plus pytest,
  pytest-cov and coverage from the mounted wheelhouse, the import check, ``docker commit``;
  with a setup secret, the scan of the changed files too;
* cached: ``sandbox-runner env build`` when the image is there (detection, hashing, lookup);
* beside them: ``docker run --rm IMAGE true`` (what starting any container costs) and the
  default environment layer's offline rebuild (``image build`` of that layer, wheelhouse
  cached).

Results replace the "Environment builds" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from runner.config import DockerSandboxConfig  # noqa: E402
from runner.sandbox.image import ensure_image  # noqa: E402

CLI = [sys.executable, "-m", "runner.cli"]
SECRET_NAME = "SR_BENCH_TOKEN"


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0, done.stdout


@contextmanager
def _index(real: bool, work: Path) -> Iterator[str]:
    """The [environment] lines for the index the build uses."""
    if real:
        yield ""
        return
    from tests.env.index import stand_in_index

    with stand_in_index(work, ("humanize", "tabulate")) as idx:
        yield (f'[environment]\nindex_url = "{idx.url}"\nallow_hosts = ["{idx.allow}"]\n'
               f'secrets = ["{SECRET_NAME}"]\n')


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s" if values else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold", type=int, default=3)
    ap.add_argument("--cached", type=int, default=5)
    ap.add_argument("--real-index", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sandbox = ensure_image(DockerSandboxConfig())
    env = {SECRET_NAME: "bench-secret-" + os.urandom(8).hex()}
    with tempfile.TemporaryDirectory(prefix="sr-bench-env-") as tmp:
        work = Path(tmp)
        project = work / "humanize-api"
        shutil.copytree(REPO / "examples" / "humanize-api", project,
                        ignore=shutil.ignore_patterns("scenario*.yaml"))
        with _index(args.real_index, work / "index") as toml:
            (project / "sandbox-runner.toml").write_text(toml)
            cold, cached = [], []
            ref = ""
            for _ in range(args.cold):
                seconds, out = _timed([*CLI, "env", "build", str(project), "--rebuild", "--json"],
                                      env)
                ref = json.loads(out)["ref"]
                cold.append(seconds)
            for _ in range(args.cached):
                seconds, out = _timed([*CLI, "env", "build", str(project), "--json"], env)
                assert not json.loads(out)["built"]
                cached.append(seconds)
            bare = [_timed(["docker", "run", "--rm", "--network", "none", ref, "true"])[0]
                    for _ in range(3)]
            size = subprocess.run(["docker", "image", "inspect", ref, "--format", "{{.Size}}"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            runtime = json.loads(subprocess.run(
                ["docker", "image", "inspect", ref, "--format", "{{json .Config.Labels}}"],
                capture_output=True, text=True, check=True).stdout)["sandbox-runner.runtime"]
            runtime_size = subprocess.run(
                ["docker", "image", "inspect", runtime, "--format", "{{.Size}}"],
                capture_output=True, text=True, check=True).stdout.strip()
            subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, check=False)
    t0 = time.perf_counter()
    ensure_image(DockerSandboxConfig(), force_env=True)
    default_layer = time.perf_counter() - t0
    index = "the real index (pypi.org through the proxy)" if args.real_index else \
        "stand-in wheels from a local index container (as in the tests)"
    body = f"""
`bench/env_build.py` ({platform.machine()}, {os.cpu_count()} cores; {index}; a setup secret
given, so the cold builds include the scan of the changed files). The example is
`examples/humanize-api` (humanize, tabulate; pytest, pytest-cov and coverage from the mounted
wheelhouse). The runtime layer is present in every case; it is built once per runner version.

| what | median | runs |
| --- | --- | --- |
| cold: `env build --rebuild` (build container, proxy + relay, pip, check, scan, commit) | {_median(cold)} | {len(cold)} |
| cached: `env build` with the image present (detect, hash, look up) | {_median(cached)} | {len(cached)} |
| `docker run --rm ENV_IMAGE true` (any container start, for scale) | {_median(bare)} | {len(bare)} |
| default environment layer rebuilt offline (`image build`, wheelhouse cached) | {default_layer:.2f} s | 1 |

The environment layer adds {int(size) - int(runtime_size):,} bytes to the runtime layer
({int(runtime_size):,} bytes); the default sandbox image is `{sandbox}`.
A cached environment costs a run nothing beyond the lookup: `run` reuses the image and
opens no setup connection.
"""
    print(body)
    if not args.no_write:
        replace_section(REPO / "docs" / "benchmarks.md", "Environment builds", body)


if __name__ == "__main__":
    main()

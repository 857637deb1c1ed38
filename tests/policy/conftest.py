"""Engines for the policy tests: regorus always, OPA when a server is available.

The OPA engine needs an OPA server: the ``opa`` binary on PATH (the engine starts
``opa run --server``) or ``OPA_URL``. Neither is installable on this machine, so
the parametrisation skips OPA then and says so; the OPA engine's fail-closed
behaviour is still tested against fake servers in test_engines.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from runner.config import OPAEngineConfig, PolicyConfig, RegorusEngineConfig
from runner.policy.engine import PolicyEngine, load_engine

OPA_URL = os.environ.get("OPA_URL")
HAVE_OPA = bool(OPA_URL) or shutil.which("opa") is not None
NO_OPA_REASON = "no OPA server: the opa binary is not on PATH and OPA_URL is not set"


def engine_config(kind: str) -> PolicyConfig:
    if kind == "opa":
        return PolicyConfig(engine=OPAEngineConfig(url=OPA_URL))
    return PolicyConfig(engine=RegorusEngineConfig())


ENGINES = [
    pytest.param("regorus", id="regorus"),
    pytest.param("opa", id="opa", marks=pytest.mark.skipif(not HAVE_OPA, reason=NO_OPA_REASON)),
]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[PolicyEngine]:
    eng = load_engine(engine_config(request.param))
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def regorus_engine() -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig())
    yield eng
    eng.close()

"""A run's egress allowlists: ``--allow-host`` / ``--allow-preset`` added to the policy data.

The additions go into the bundle's ``data.settings`` (``allowed_hosts``, ``allowed_presets``),
so the tool-call policy (a ``pip download`` naming the index) and the proxy (its
connections) decide on the same list, and the bundle hash recorded for the run is the hash
of the policies and data that decided.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from runner.errors import ConfigError
from runner.policy.bundle import PolicyBundle, bundle_hash
from runner.policy.data import PolicyData, load_policy_data

_PHASE_KEYS = {"agent": ("allowed_hosts", "allowed_presets"),
               "setup": ("setup_allowed_hosts", "setup_presets")}


def with_phase_hosts(bundle: PolicyBundle, phase: str, hosts: Sequence[str],
                     presets: Sequence[str], *, where: str = "") -> PolicyBundle:
    """``bundle`` with ``hosts`` (canonical entries) and ``presets`` added to ``phase``'s
    allowlist (agent: ``allowed_hosts``/``allowed_presets``; setup: ``setup_allowed_hosts``/
    ``setup_presets``); the same bundle when there is nothing to add. An unknown preset is a
    ConfigError naming the known ones (``where``: the config section it came from)."""
    if not hosts and not presets:
        return bundle
    known = load_policy_data(bundle).egress_presets
    for name in presets:
        if name not in known:
            raise ConfigError(f"{where}unknown egress preset {name!r} (known: "
                              f"{', '.join(sorted(known)) or 'none'})")
    data = copy.deepcopy(bundle.data)
    settings = data.setdefault("settings", {})
    for key, extra in zip(_PHASE_KEYS[phase], (hosts, presets), strict=True):
        current = list(settings.get(key) or [])
        settings[key] = current + [e for e in extra if e not in current]
    load_policy_data(data)  # still valid settings
    return bundle.model_copy(update={"data": data, "hash": bundle_hash(bundle.files, data)})


def with_agent_hosts(bundle: PolicyBundle, hosts: Sequence[str], presets: Sequence[str]
                     ) -> PolicyBundle:
    """The agent phase's allowlist plus ``--allow-host`` / ``--allow-preset``."""
    return with_phase_hosts(bundle, "agent", hosts, presets)


def with_setup_hosts(bundle: PolicyBundle, hosts: Sequence[str], presets: Sequence[str]
                     ) -> PolicyBundle:
    """The setup phase's allowlist plus ``[environment] allow_hosts`` / ``presets``."""
    return with_phase_hosts(bundle, "setup", hosts, presets, where="[environment] presets: ")


def phase_allowlist(data: PolicyData, phase: str) -> list[str]:
    """The entries a phase may connect to (empty: that phase gets no proxy at all)."""
    return data.phase_hosts(phase)

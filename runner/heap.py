"""The runner process's garbage collector: paused while the process starts, then settled.

Start-up (importing click, pydantic and the models, the Docker SDK, the gateway's stack;
compiling the policies) allocates hundreds of thousands of objects that live until the run
ends, and almost no cyclic garbage: the cyclic collector, run every 700 allocations, walked
them again and again for 50-70 ms of a run's start-up CPU, on the path to its first model
request. So the CLI pauses it (:func:`pause`, from the root command's invoke) and start-up
ends with :func:`settle`: a command's module once it is imported, or, for ``run``, once its
host side is up (runner/run/phases.py), or before an environment build (its proxy serves
for minutes). A sandbox image build before that runs paused: its allocations are log lines
and JSON, freed by reference counting.

:func:`settle` moves everything tracked to the permanent generation (``gc.freeze``, which
costs nothing) and turns the collector back on: what start-up left is never walked again,
so no full collection lands in the middle of a decision (tens of milliseconds on this heap,
against a decision's fraction of one); later collections look only at what was allocated
since. It does not collect first (a full collection here takes 20-30 ms): start-up's own few
unreachable cycles stay in memory with the rest of what is frozen. Idempotent.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """No cyclic collection until :func:`settle` (see the module docstring)."""
    gc.disable()


def settle() -> None:
    """Freeze what start-up left on the heap and collect again from here on."""
    gc.freeze()
    gc.enable()

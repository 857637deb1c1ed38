"""The runner process's garbage collector, settled once start-up is over.

What is alive when the agent phase starts (imported modules, the compiled policies, the docker
client, pydantic's schemas) lives until the run ends. Left in the collected generations, it is
walked again by every full collection, and a full collection can land in the middle of a
decision: tens of milliseconds on this heap, against a decision's fraction of one.
:func:`settle` moves everything tracked to the permanent generation (``gc.freeze``, which
costs nothing): later collections look only at what was allocated since. It does not collect
first (a full collection here takes 20-30 ms of start-up): start-up's own unreachable cycles
stay in memory with the rest of what is frozen. Call it once, when start-up is over.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Freeze what start-up left on the heap (see the module docstring)."""
    gc.freeze()

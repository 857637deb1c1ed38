"""Shell analysis (being split into a package; see :mod:`runner.policy.shell.walker`)."""

from runner.policy.shell.walker import (
    FILE_PROGRAMS,
    MAX_DEPTH,
    ShellAnalysis,
    Word,
    analyze,
    getopt,
    scp_remote,
    split_host_port,
    url_host,
)

__all__ = [
    "FILE_PROGRAMS",
    "MAX_DEPTH",
    "ShellAnalysis",
    "Word",
    "analyze",
    "getopt",
    "scp_remote",
    "split_host_port",
    "url_host",
]

"""Program tables shared by the walker and the handler registry (pure data)."""

from __future__ import annotations

import re

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "posh", "rbash"})
_PY_RE = re.compile(r"^(python|pypy|pip)(\d+(\.\d+)*)?$")
_NO_FILE_PROGRAMS = frozenset({
    "echo", "printf", "true", "false", ":", "test", "[", "[[", "expr", "seq", "sleep", "yes",
    "id", "whoami", "date", "uname", "hostname", "which", "whereis", "type", "hash", "alias",
    "unalias", "read", "wait", "jobs", "fg", "bg", "kill", "pkill", "pgrep", "ps", "top", "free",
    "uptime", "nproc", "tput", "clear", "reset", "history", "exit", "return", "break",
    "continue", "shift", "getopts", "let", "shopt", "umask", "ulimit", "times", "logout", "pwd",
    "dirs", "basename", "dirname", "groups", "tty", "stty", "arch", "lscpu", "df", "mount",
    "sync", "disown", "suspend", "enable", "help", "caller", "complete", "compopt", "bind",
    "fc", "mapfile", "readarray", "logname", "users", "who", "w", "last", "lsof", "vmstat",
    "getconf", "locale", "true.exe", "tr", "notify-send", "usleep", "factor",
})


_PROXY_VARS = frozenset({
    "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "socks_proxy", "rsync_proxy",
})
_INDEX_VARS = {
    "pip_index_url": "pip-index", "pip_extra_index_url": "pip-index", "uv_index_url": "pip-index",
    "uv_default_index": "pip-index", "uv_extra_index_url": "pip-index", "uv_index": "pip-index",
    "npm_config_registry": "npm-registry", "yarn_registry": "npm-registry",
    "pip_find_links": "pip-find-links", "pip_proxy": "proxy-env",
}
_REDIRECT_IGNORE = frozenset({
    "/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero",
    "/dev/full", "/dev/random", "/dev/urandom",
})
_WRITE_REDIRECTS = frozenset({">", ">>", "&>", "&>>", ">|", "<>"})


_DECODERS = ("base64", "base32", "basenc", "uudecode")
# Programs that never open a connection themselves: a URL in their arguments is text
# (a grep pattern, a commit message). Their own network semantics are handled (git).
_NO_URL_SCAN_EXTRA = frozenset({"git", "cd", "pushd", "popd", "set", "export", "trap"})


def _family(name: str) -> str:
    m = _PY_RE.match(name)
    if m:
        return m.group(1).replace("pypy", "python")
    if name.startswith("python"):
        return "python"
    return name

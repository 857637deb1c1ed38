"""The sandbox self-check: one Python script run inside the container before the agent starts.

It proves from the inside what the spec asked Docker for: writes outside the writable paths
fail at the kernel, the writable paths work, the root filesystem is read-only, only loopback
exists and connects fail, no capabilities, no-new-privileges, not uid 0, the pids (and
memory) limit is in force, the socket dir is read-only, masks hide secrets (a mask below a
directory the sandbox user cannot enter counts as hidden), a sanitized ``.git/config`` holds no
credentials and is read-only; with the egress proxy, a direct connect still fails and the
proxy refuses a host outside the allowlist. Every check is reported; nothing raises half-way.
The caller ends the run (SelfCheckFailed, exit 3) when ``result.ok`` is false.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from runner.errors import SelfCheckFailed
from runner.sandbox.environment import SandboxEnvironment
from runner.wire import SOCKET_DIR_IN_CONTAINER

SYSTEM_PYTHON = "/usr/bin/python3"  # the base image's (runner/sandbox/base_image.py)

_SCRIPT = r'''
import errno, json, os, re, socket, sys, time

args = json.loads(sys.argv[1])
W = "/workspace"
checks = []
DENIED = {errno.EROFS, errno.EACCES, errno.EPERM, errno.EXDEV}


def add(name, ok, detail):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:500]})


def attempt_write(path):
    """None when the kernel refused the write, else what happened (and undo it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return None if exc.errno in DENIED else f"{path}: unexpected {errno.errorcode.get(exc.errno, exc.errno)}"
    os.close(fd)
    try:
        os.unlink(path)
    except OSError:
        pass
    return f"{path}: write succeeded"


def check(name, fn):
    try:
        ok, detail = fn()
    except Exception as exc:  # report, never stop half-way
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    add(name, ok, detail)


status = {}
with open("/proc/self/status") as fh:
    for line in fh:
        key, _, value = line.partition(":")
        status[key] = value.strip()

writable = [w.rstrip("/") for w in args["writable"]]
masked = [m.rstrip("/") for m in args["secrets"]] + [".sandbox-runner"]
tag = f".sr-selfcheck-{os.getpid()}-{time.monotonic_ns()}"


def uid():
    ids = (os.getuid(), os.geteuid(), os.getgid(), os.getegid())
    return 0 not in ids, f"uid/euid/gid/egid={ids}"


def caps():
    keys = ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh")
    vals = {k: status.get(k, "?") for k in keys}
    if vals["CapAmb"] == "?" and vals["CapPrm"] == vals["CapInh"] == "0" * 16:
        vals["CapAmb"] = "0 (not shown; ambient is a subset of permitted and inheritable)"
        return all(int(v, 16) == 0 for k, v in vals.items() if k != "CapAmb"), vals
    return all(v != "?" and int(v, 16) == 0 for v in vals.values()), vals


def nnp():
    if "NoNewPrivs" in status:
        return status.get("NoNewPrivs") == "1", f"NoNewPrivs={status.get('NoNewPrivs')}"
    import ctypes  # gVisor's /proc/self/status has no NoNewPrivs line: ask the kernel
    value = ctypes.CDLL(None, use_errno=True).prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
    return value == 1, f"prctl(PR_GET_NO_NEW_PRIVS)={value}"


def rootfs():
    bad = [r for p in ("/", "/etc", "/usr", "/opt/project-venv", "/opt/sandbox-runner",
                              "/opt/sandbox-runner/venv", "/var")
           if (r := attempt_write(f"{p.rstrip('/')}/{tag}"))]
    ro = False
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            parts = line.split()
            if parts[4] == "/":
                ro = "ro" in parts[5].split(",")
    if not ro:
        bad.append("/ is not mounted ro")
    return not bad, "; ".join(bad) or "writes to /, /etc, /usr, /opt, /var refused; / mounted ro"


def workspace():
    tops = sorted(e for e in os.listdir(W) if e not in writable and e not in masked)
    targets = [f"{W}/{tag}", f"{W}/{writable[0]}/../{tag}" if writable else f"{W}/{tag}2"]
    targets += [f"{W}/{e}/{tag}" for e in tops if os.path.isdir(f"{W}/{e}") and
                not os.path.islink(f"{W}/{e}")][:6]
    bad = [r for t in targets if (r := attempt_write(t))]
    try:
        os.mkdir(f"{W}/{tag}.d")
        os.rmdir(f"{W}/{tag}.d")
        bad.append("mkdir in /workspace succeeded")
    except OSError as exc:
        if exc.errno not in DENIED:
            bad.append(f"mkdir: unexpected {exc}")
    return not bad, "; ".join(bad) or f"refused: {', '.join(targets)}"


def writable_entry(entry):
    def run():
        path = f"{W}/{entry}"
        if os.path.isdir(path):
            probe = f"{path}/{tag}"
            with open(probe, "wb") as fh:
                fh.write(b"selfcheck")
            os.unlink(probe)
            return True, f"created and removed {probe}"
        with open(path, "ab"):
            pass
        return True, f"{path} opens for append"
    return run


def scratch():
    bad = []
    for d in ("/tmp", os.environ.get("HOME", "/home/agent")):
        probe = f"{d}/{tag}"
        try:
            with open(probe, "wb") as fh:
                fh.write(b"x")
            os.unlink(probe)
        except OSError as exc:
            bad.append(f"{d}: {exc}")
    return not bad, "; ".join(bad) or "/tmp and $HOME writable"


def socket_dir():
    r = attempt_write(f"{args['socket_dir']}/{tag}")
    return r is None, r or f"{args['socket_dir']} refuses writes"


def interfaces():
    names = sorted(n for _, n in socket.if_nameindex())
    with open("/proc/net/dev") as fh:
        dev = sorted(l.split(":")[0].strip() for l in fh.readlines()[2:])
    return names == ["lo"] and dev == ["lo"], f"if_nameindex={names} /proc/net/dev={dev}"


def connects():
    bad, seen = [], []
    # Only this machine's own addresses (Docker's bridge gateway): even a misconfigured
    # sandbox must never send a probe to somebody else's network.
    for host, port in (("172.17.0.1", 2375), ("172.17.0.1", 443)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        t0 = time.monotonic()
        try:
            s.connect((host, port))
            bad.append(f"connect {host}:{port} succeeded")
        except OSError as exc:
            seen.append(f"{host}:{port} {errno.errorcode.get(exc.errno, exc)} in {time.monotonic() - t0:.2f}s")
        finally:
            s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.sendto(b"x", ("172.17.0.1", 53))
        bad.append("udp sendto 172.17.0.1:53 succeeded")
    except OSError as exc:
        seen.append(f"udp {errno.errorcode.get(exc.errno, exc)}")
    finally:
        u.close()
    try:
        socket.getaddrinfo("sandbox-runner-selfcheck.invalid", 443)
        bad.append("DNS lookup succeeded")
    except OSError:
        seen.append("dns fails")
    return not bad, "; ".join(bad) or "; ".join(seen)


def read_first(paths):
    for p in paths:
        try:
            with open(p) as fh:
                return p, fh.read().strip()
        except OSError:
            continue
    return None, None


def pids():
    want = args["pids_limit"]
    if args["isolation"] == "gvisor":  # gVisor's kernel enforces RLIMIT_NPROC per sandbox user
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        return (soft, hard) == (want, want), f"RLIMIT_NPROC={soft}:{hard} (expected {want})"
    path, value = read_first(["/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"])
    return value == str(want), f"{path}={value} (expected {want})"


def memory():
    want = args.get("memory_bytes")
    if args["isolation"] == "gvisor":  # gVisor sizes its memory to the limit (its cgroupfs,
        with open("/proc/meminfo") as fh:  # where shown, carries no limit)
            total = int(fh.readline().split()[1]) * 1024
        return want is not None and total == want, f"gVisor MemTotal={total} (expected {want})"
    path, value = read_first(["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"])
    if want is None:
        return value not in (None, "max") and int(value) < 2**60, f"{path}={value}"
    return value == str(want), f"{path}={value} (expected {want})"


def docker_socket():
    found = [p for p in ("/var/run/docker.sock", "/run/docker.sock", "/run/docker") if os.path.exists(p)]
    return not found, f"present: {found}" if found else "no Docker socket"


def masks():
    bad = []
    for rel in masked:
        path = f"{W}/{rel}"
        try:
            os.lstat(path)
        except PermissionError:
            continue  # a directory on the way shuts the sandbox user out: hidden anyway
        except FileNotFoundError:
            if rel != ".sandbox-runner":
                bad.append(f"{rel}: missing")
            continue
        if os.path.isdir(path):
            if os.listdir(path):
                bad.append(f"{rel}/ is not empty")
            if (r := attempt_write(f"{path}/{tag}")):
                bad.append(r)
        else:
            with open(path, "rb") as fh:
                if fh.read(1):
                    bad.append(f"{rel} is readable")
            if (r := attempt_write(path + ".sr")) :
                bad.append(r)
            try:
                with open(path, "ab"):
                    bad.append(f"{rel} opens for writing")
            except OSError:
                pass
    return not bad, "; ".join(bad) or f"{len(masked)} masked path(s) empty and read-only"


def sanitized():
    bad = []
    for rel in args["sanitized"]:
        path = f"{W}/{rel}"
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8", "replace")
        except OSError as exc:
            bad.append(f"{rel}: {exc}")
            continue
        if re.search(r"(?i)extraheader|://[^/\s\"'@]*@", text):
            bad.append(f"{rel} still holds credentials")
        try:
            with open(path, "ab"):
                bad.append(f"{rel} opens for writing")
        except OSError:
            pass
    return not bad, "; ".join(bad) or f"{', '.join(args['sanitized'])}: no credentials, read-only"


def egress_direct():
    # With the egress proxy running the sandbox still has no network: only the relay on
    # loopback leads out. TEST-NET-1 (RFC 5737) is never routed: no probe reaches anybody.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(("192.0.2.1", 443))
        return False, "direct connect to 192.0.2.1:443 succeeded"
    except OSError as exc:
        return True, f"direct connect to 192.0.2.1:443 fails ({errno.errorcode.get(exc.errno, exc)})"
    finally:
        s.close()


def http_exchange(port, request):
    """The raw answer (at most 64 KiB) to one request sent to 127.0.0.1:port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.settimeout(15)
    data = b""
    try:
        s.sendall(request)
        while len(data) < 65536:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data


def egress_refuses():
    host = "sandbox-runner-selfcheck.invalid:443"
    data = http_exchange(args["proxy_port"],
                         f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    detail = f"CONNECT {host} through the relay: {status}; {body.decode('utf-8', 'replace').strip()}"
    return status.startswith("HTTP/1.1 403 "), detail


def claude_hook():
    """The runner's PreToolUse hook is in root-owned managed settings the agent cannot change."""
    path = "/etc/claude-code/managed-settings.json"
    st = os.stat(path)
    with open(path) as fh:
        conf = json.load(fh)
    hooks = [h for m in conf.get("hooks", {}).get("PreToolUse", []) if m.get("matcher") == "*"
             for h in m.get("hooks", [])]
    ours = [h for h in hooks if str(h.get("command", "")).startswith(args["claude_code"]["hook"])]
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        unwritable = False
    except OSError as exc:
        unwritable = exc.errno in DENIED
    unwritable = unwritable and attempt_write(os.path.dirname(path) + "/x") is None
    ok = bool(ours) and st.st_uid == 0 and not st.st_mode & 0o022 and unwritable \
        and conf.get("allowManagedHooksOnly") is True and not conf.get("disableAllHooks")
    return ok, (f"{path}: owner {st.st_uid}, mode {oct(st.st_mode & 0o777)}, "
                f"{'not writable' if unwritable else 'WRITABLE'}, runner hook "
                f"{'present' if ours else 'MISSING'}, allowManagedHooksOnly "
                f"{conf.get('allowManagedHooksOnly')}")


def claude_binary():
    path = args["claude_code"]["binary"]
    st = os.stat(path)
    ok = st.st_uid == 0 and not st.st_mode & 0o022 and os.access(path, os.X_OK) \
        and not os.access(path, os.W_OK)
    return ok, f"{path}: owner {st.st_uid}, mode {oct(st.st_mode & 0o777)}"


def kernel():
    """runc: the host kernel; gvisor: gVisor's (release 4.4.0, its boot log in dmesg)."""
    import subprocess
    release = os.uname().release
    try:
        boot = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        boot = ""
    gvisor = release == "4.4.0" and "gVisor" in boot
    line = next((l.strip() for l in boot.splitlines() if "gVisor" in l), "")
    if args["isolation"] == "gvisor":
        return gvisor, f"kernel {release}; dmesg: {line or 'no gVisor boot line'}"
    return not gvisor, f"kernel {release} (the host's; runc)"


def api_relay():
    data = http_exchange(args["claude_code"]["port"],
                         b"HEAD / HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n")
    status = data.split(b"\r\n", 1)[0].decode("latin-1")
    return status.startswith("HTTP/1.1 200"), f"HEAD / through the API relay: {status}"


check("uid_not_root", uid)
check("capabilities_dropped", caps)
check("no_new_privileges", nnp)
check("rootfs_read_only", rootfs)
check("workspace_read_only", workspace)
for entry in writable:
    check(f"writable:{entry}", writable_entry(entry))
check("scratch_writable", scratch)
check("socket_dir_read_only", socket_dir)
check("network_loopback_only", interfaces)
check("network_connect_fails", connects)
check("pids_limit", pids)
check("memory_limit", memory)
check("no_docker_socket", docker_socket)
if args["isolation"]:
    check(f"isolation_{args['isolation']}", kernel)
check("masks_hide_secrets", masks)
if args["sanitized"]:
    check("credentials_removed", sanitized)
if args["proxy_port"]:
    check("egress_direct_connect_fails", egress_direct)
    check("egress_proxy_refuses_unlisted_host", egress_refuses)
if args["claude_code"]:
    check("claude_code_hook_managed", claude_hook)
    check("claude_code_binary_read_only", claude_binary)
    check("api_relay_reaches_gateway", api_relay)
print(json.dumps(checks))
'''


def host_pids_check(pid: int | None, pids_limit: int,
                    cgroup_root: str = "/sys/fs/cgroup") -> Check:
    """The host pids limit of a gVisor sandbox (``gvisor_host_pids``: headroom for the
    sandbox's own host tasks), read from the cgroup of the container's process ``pid``."""
    name = "pids_limit_host"
    if not pid:
        return Check(name=name, ok=False, detail="the container has no host pid")
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return Check(name=name, ok=False, detail=f"/proc/{pid}/cgroup: {exc.strerror}")
    candidates: list[Path] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            candidates.append(Path(cgroup_root, "pids", path.lstrip("/"), "pids.max"))
        elif controllers == "" and path != "/":
            candidates.append(Path(cgroup_root, path.lstrip("/"), "pids.max"))
    for file in candidates:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        return Check(name=name, ok=value == str(pids_limit),
                     detail=f"{file}={value} (expected {pids_limit})")
    return Check(name=name, ok=False, detail=f"no pids.max for pid {pid} under {cgroup_root}")


class ClaudeCodeCheck(BaseModel):
    """What the self-check proves for the claude-code runtime."""

    binary: str  # the Claude Code binary in the image
    hook: str  # how the runner's hook command starts (the managed settings must name it)
    port: int  # the API relay's port


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class SelfCheckResult(BaseModel):
    checks: list[Check] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok] or ([] if self.checks else ["no checks ran"])

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise SelfCheckFailed(self.failed)


def run_self_check(
    sandbox: SandboxEnvironment, *, writable: list[str], pids_limit: int,
    secret_paths: list[str] | None = None, memory_bytes: int | None = None,
    sanitized: list[str] | None = None, timeout: float = 60.0, proxy_port: int | None = None,
    claude_code: ClaudeCodeCheck | None = None, isolation: str | None = None,
) -> SelfCheckResult:
    """Run the checks inside the sandbox (as its user); every outcome is in the result.

    ``sanitized``: workspace-relative files replaced by a copy without credentials
    (``.git/config``); checked to hold none and to be read-only. ``proxy_port``: the egress
    relay's port when the proxy runs: a direct connect must still fail, and the proxy must
    refuse a host outside the allowlist (403; a logged decision). ``claude_code``: the
    claude-code runtime's hook is in root-owned managed settings the sandbox user cannot
    change, the binary is read-only, and the API relay reaches the gateway. ``isolation``:
    ``gvisor`` - the container sees gVisor's kernel (release 4.4.0, its boot line in dmesg);
    ``runc`` - it does not.
    """
    args = {
        "writable": writable, "pids_limit": pids_limit, "secrets": secret_paths or [],
        "memory_bytes": memory_bytes, "socket_dir": SOCKET_DIR_IN_CONTAINER,
        "sanitized": sanitized or [], "proxy_port": proxy_port,
        "claude_code": claude_code.model_dump() if claude_code is not None else None,
        "isolation": isolation,
    }
    try:
        # the system interpreter by absolute path, without site: the sandbox's PATH starts with
        # the project environment, whose scripts and .pth files must not run the check
        res = sandbox.exec([SYSTEM_PYTHON, "-I", "-S", "-c", _SCRIPT, json.dumps(args)],
                           timeout=timeout)
    except Exception as exc:  # the check must report, never raise
        return SelfCheckResult(checks=[Check(name="selfcheck_script", ok=False,
                                             detail=f"{type(exc).__name__}: {exc}")])
    try:
        raw = json.loads(res.stdout.strip().splitlines()[-1])
        checks = [Check.model_validate(item) for item in raw]
    except (ValueError, IndexError, TypeError) as exc:
        detail = (res.stderr.strip() or res.stdout.strip() or str(exc))[-500:]
        if res.timed_out:
            detail = f"timed out after {timeout:g}s; {detail}"
        return SelfCheckResult(checks=[Check(name="selfcheck_script", ok=False,
                                             detail=f"exit {res.returncode}: {detail}")])
    return SelfCheckResult(checks=checks)

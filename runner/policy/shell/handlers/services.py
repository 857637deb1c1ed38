"""Programs that reach a host the command may not show: mail (a relay), scanners, time
servers, container engines (a daemon outside the sandbox and image registries), cluster and
cloud CLIs (their API servers), and remote file systems and shells.

Where a program's host is configured elsewhere (the mail relay, the kubeconfig's server,
the cloud's API endpoints, the Docker daemon) the host fact names that and is ``dynamic``:
it cannot be checked, so only an explicit option naming a literal host (``--server``,
``--endpoint-url``, ``-H``) can be matched against the allowed hosts, and even then the
default endpoint stays unless the option replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.policy.shell.context import _Call
from runner.policy.shell.hosts import scp_remote, split_host_port
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt


def _label(call: _Call) -> str:
    return " ".join(a.text for a in call.argv)


def _only_info(call: _Call) -> bool:
    """``prog``, ``prog --version``, ``prog --help``: prints something, connects nowhere."""
    return all(a.text in ("--version", "-V", "-v", "--help", "-h") for a in call.args) and bool(
        call.args)


# --- mail ------------------------------------------------------------------------------------

_MAIL_VAL = {
    "sendmail": ("BCFfhLNOopqRrVX", []),
    "mail": ("abcfqrSsuAa", ["--subject", "--cc", "--bcc", "--attach", "--return-address"]),
    "mutt": ("abcFfHiQsemA", []),
    "msmtp": ("CfaeFLSNRTXHP", ["--host", "--port", "--from", "--file", "--account",
                                "--logfile", "--domain", "--auth", "--user", "--tls-trust-file"]),
    "swaks": ("tfsphaqe", ["--to", "--from", "--server", "--port", "--header", "--body",
                           "--attach", "--auth-user", "--auth-password", "--helo", "--data",
                           "--socket", "--protocol", "--auth"]),
}


def _h_mail(w: _Walker, call: _Call) -> None:
    """Mail programs deliver through a relay the command does not show: always a host."""
    family = {"mailx": "mail", "s-nail": "mail", "bsd-mailx": "mail", "heirloom-mailx": "mail",
              "neomutt": "mutt", "ssmtp": "sendmail", "sendemail": "swaks",
              "mpack": "mutt"}.get(call.name, call.name)
    short, long_ = _MAIL_VAL.get(family, ("", []))
    opts, pos = getopt(call.args, short, long_)
    if family == "mail" and (_has(opts, "-f") or not pos):
        return  # reading a mailbox
    recipients = list(pos) + _vals(opts, "--to", "-t", "-c", "-b", "--cc", "--bcc")
    for r in recipients:
        for addr in re.split(r"[,\s]+", r.text):
            if "@" in addr:
                w.add_host(addr.rpartition("@")[2].strip(">"), 25, "mail", dynamic=r.dynamic)
    servers = _vals(opts, "--server", "-s" if family == "swaks" else "--host", "--host")
    for s in servers:
        host, port = split_host_port(s.text, 25)
        w.add_host(host, port, "mail", dynamic=s.dynamic)
    if not servers:
        w.add_hidden_host(f"the mail relay ({call.name})", "mail")
    for v in _vals(opts, "-A", "--attach", "--file", "--data", "--body"):
        if not v.text.startswith("-"):
            w.add_path(v.sub(v.text.lstrip("@")), "read", call)


# --- scanners, time servers, remote shells and file systems ------------------------------------

_NMAP_VAL = [
    "-iL", "-iR", "--exclude", "--excludefile", "-p", "-oN", "-oX", "-oS", "-oG", "-oA", "-S",
    "-e", "-g", "--source-port", "--data-length", "--ttl", "--spoof-mac", "-D", "--script",
    "--script-args", "--max-retries", "--host-timeout", "--scan-delay", "--min-rate",
    "--max-rate", "--top-ports", "--version-intensity", "--dns-servers", "--datadir",
    "--stylesheet", "--resume", "--proxies", "--data", "--data-string", "--exclude-ports",
    "--min-hostgroup", "--max-hostgroup", "--min-parallelism", "--max-parallelism",
    "--port-ratio", "--mtu", "-b", "--adapter", "--router-mac", "--rate", "--ports",
    "--output-filename", "-oL", "-oJ", "--includefile", "-c", "--conf",
]
_NMAP_WRITE = ("-oN", "-oX", "-oS", "-oG", "-oA", "-oL", "-oJ", "--output-filename", "--resume")


def _h_scanner(w: _Walker, call: _Call) -> None:
    """nmap, masscan, zmap, nping, netdiscover ...: every target is a host."""
    args = call.args
    targets: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if t in _NMAP_VAL and i + 1 < len(args):
            v = args[i + 1]
            if t in ("-iL", "--includefile"):
                w.add_path(v, "read", call)
                w.add_hidden_host(f"the targets listed in {v.text}", call.name)
            elif t == "-iR":
                w.add_hidden_host("random targets", call.name)
            elif t in _NMAP_WRITE:
                w.add_path(v, "write", call)
            elif t in ("-b", "--proxies", "--dns-servers"):
                for part in re.split(r"[,\s]+", v.text):
                    if part:
                        w.add_url(part, call.name, dynamic=v.dynamic, default_scheme="ftp")
            i += 2
            continue
        if a.dynamic or not t.startswith("-"):
            targets.append(a)
        i += 1
    for tg in targets:
        host = tg.text.split("/")[0] if not tg.dynamic else tg.text
        w.add_host(host, None, call.name, dynamic=tg.dynamic)
    if not targets and not _only_info(call) and call.args:
        w.add_hidden_host(f"the targets of {call.name}", call.name)


def _h_ntp(w: _Walker, call: _Call) -> None:
    """ntpdate, sntp, rdate, htpdate, ntpd -q, chronyd -q: a time server."""
    values = {"ntpdate": "aekopt", "sntp": "akKMotgwrc", "htpdate": "ahlmMptu"}.get(call.name, "")
    opts, pos = getopt(call.args, values, ["--keyfile", "--timeout", "--steplimit"])
    servers = [p for p in pos if not p.text.startswith("-")]
    if call.name in ("ntpd", "chronyd"):
        servers = []  # servers from their configuration (or -q 'server x' for chronyd)
        for p in pos:
            m = re.match(r"^\s*(server|pool|peer)\s+(\S+)", p.text)
            if m:
                w.add_host(m.group(2), 123, call.name, dynamic=p.dynamic)
                servers.append(p)
    elif servers:
        for s in servers:
            w.add_host(s.text, 123 if call.name != "rdate" else 37, call.name,
                       dynamic=s.dynamic)
    if not servers and not _only_info(call):
        w.add_hidden_host(f"the time servers of {call.name}", call.name)
    for v in _vals(opts, "-k", "--keyfile"):
        w.add_path(v, "read", call)


def _h_remote_fs(w: _Walker, call: _Call) -> None:
    """sshfs/curlftpfs/smbclient/ncftp*/rcp/rsh/rlogin: hosts in ``host:path``, URLs, ``//host``."""
    opts, pos = getopt(call.args, "oupPUWIcAmDTLnRlFE", [])
    found = False
    for v in _vals(opts, "-I") if call.name.startswith("smb") else []:
        w.add_host(v.text, 445, call.name, dynamic=v.dynamic)
        found = True
    for p in pos:
        t = p.text
        if "://" in t:
            found = w.add_url(t, call.name, dynamic=p.dynamic) or found
        elif t.startswith("//") or t.startswith("\\\\"):
            w.add_host(re.split(r"[/\\]", t.lstrip("/\\"))[0], 445, call.name,
                       dynamic=p.dynamic)
            found = True
        elif scp_remote(t) is not None:
            w.add_host(scp_remote(t) or t, 22, call.name, dynamic=p.dynamic)
            found = True
        elif call.name in ("rsh", "rlogin", "ncftp", "ncftpget", "ncftpput", "ncftpls",
                           "rexec") and not found:
            w.add_host(t.rpartition("@")[2], None, call.name, dynamic=p.dynamic)
            found = True
            if call.name in ("rsh", "rexec"):
                break  # the rest is the remote command
    if not found and not _only_info(call):
        w.add_hidden_host(f"the server of {call.name}", call.name)


def _h_lftp(w: _Walker, call: _Call) -> None:
    """lftp: a host or URL argument, or ``open HOST`` in ``-c``/``-e`` commands or ``-f`` file."""
    opts, pos = getopt(call.args, "cefpuU", ["--rcfile", "--env-password"])
    found = False
    for p in pos:
        found = w.add_url(p.text, "lftp", dynamic=p.dynamic, default_scheme="ftp") or found
    for cmd in _vals(opts, "-c", "-e"):
        for m in re.finditer(r"\bopen\s+(?:-\S+\s+\S+\s+)*([^\s;&|]+)", cmd.text):
            found = w.add_url(m.group(1), "lftp", dynamic=cmd.dynamic,
                              default_scheme="ftp") or found
        w.scan_urls([cmd], "lftp")
        if re.search(r"(^|[;&|]\s*)!", cmd.text):
            w.add_opaque("network-exec", _label(call))
    for f in _vals(opts, "-f", "--rcfile"):
        w.add_path(f, "read", call)
        w.add_hidden_host(f"the servers named in {f.text}", "lftp")
        found = True
    if not found and not _only_info(call):
        w.add_hidden_host("the servers lftp opens (from its commands)", "lftp")


# --- container engines, clusters, clouds ------------------------------------------------------

_IMAGE_CMDS = frozenset({"pull", "push", "run", "create", "build", "buildx", "import", "load",
                         "save", "login", "logout", "search", "manifest", "trust", "compose",
                         "image", "container", "plugin", "sbom", "scout", "init"})


def _h_container_engine(w: _Walker, call: _Call) -> None:
    """docker, podman, nerdctl ...: the daemon is outside the sandbox; images come from registries."""
    if _only_info(call) or not call.args:
        return
    opts, pos = getopt(call.args, "Hcl", ["--host", "--context", "--config", "--log-level",
                                          "--tlscacert", "--tlscert", "--tlskey", "--url",
                                          "--connection", "--identity", "--root",
                                          "--runroot", "--storage-driver"],
                       stop_at_positional=True)
    hosts = _vals(opts, "-H", "--host", "--url")
    for h in hosts:
        if h.text.startswith("unix://") or h.text.startswith("/"):
            w.add_path(h.sub(h.text.removeprefix("unix://")), "read", call)
        else:
            w.add_url(h.text, f"{call.name}-daemon", dynamic=h.dynamic, default_scheme="tcp")
    if not hosts:
        w.add_hidden_host(f"the {call.name} daemon (outside the sandbox)", f"{call.name}-daemon")
    sub = pos[0].text if pos else ""
    if sub in _IMAGE_CMDS:
        registries = {_registry(p.text) for p in pos[1:] if _looks_like_image(p.text)}
        for r in sorted(registries) or ["docker.io"]:
            w.add_host(r, 443, f"{call.name}-registry")


def _looks_like_image(text: str) -> bool:
    return bool(re.match(r"^[a-z0-9][a-z0-9._/:@-]*$", text)) and not text.startswith("-")


def _registry(image: str) -> str:
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.partition(":")[0]
    return "docker.io"


@dataclass(frozen=True)
class _Service:
    default: str  # the API endpoint (a name shown in the deny reason)
    local: frozenset[str]  # subcommands that never connect
    server_opts: tuple[str, ...]  # options naming the endpoint
    value_opts: str = ""  # short options taking a value (to find the subcommand)


_SERVICES: dict[str, _Service] = {
    "kubectl": _Service("the Kubernetes API server (kubeconfig)", frozenset({
        "config", "completion", "help", "kustomize", "plugin", "version", "options"}),
        ("--server", "-s"), "sn"),
    "oc": _Service("the OpenShift API server (kubeconfig)", frozenset({
        "config", "completion", "help", "version", "options"}), ("--server", "-s"), "sn"),
    "helm": _Service("the Kubernetes API server (kubeconfig)", frozenset({
        "template", "lint", "create", "package", "version", "completion", "env", "help",
        "show", "inspect", "verify"}), ("--kube-apiserver",), "n"),
    "kustomize": _Service("remote kustomize bases", frozenset({
        "build", "create", "edit", "cfg", "fn", "version", "completion", "help"}), ()),
    "aws": _Service("the AWS API (*.amazonaws.com)", frozenset({
        "configure", "help", "history"}), ("--endpoint-url",)),
    "gcloud": _Service("the Google Cloud API (*.googleapis.com)", frozenset({
        "config", "help", "info", "version", "topic", "cheat-sheet"}), ()),
    "gsutil": _Service("Google Cloud Storage (storage.googleapis.com)", frozenset({
        "help", "version"}), ()),
    "az": _Service("the Azure API (management.azure.com)", frozenset({
        "version", "help", "find", "config", "configure", "interactive"}), ()),
    "s3cmd": _Service("Amazon S3 (s3.amazonaws.com)", frozenset({"--configure"}), ("--host",)),
    "doctl": _Service("the DigitalOcean API", frozenset({"version", "completion", "help"}),
                      ("--api-url", "-u")),
    "heroku": _Service("the Heroku API", frozenset({"help", "version", "autocomplete"}), ()),
    "flyctl": _Service("the Fly.io API", frozenset({"version", "help", "completion"}), ()),
    "fly": _Service("the Fly.io API", frozenset({"version", "help", "completion"}), ()),
    "vercel": _Service("the Vercel API", frozenset({"help", "--version"}), ()),
    "netlify": _Service("the Netlify API", frozenset({"help", "--version"}), ()),
    "gh": _Service("the GitHub API (api.github.com)", frozenset({
        "help", "version", "completion", "config", "alias", "extension"}), ("--hostname",), "R"),
    "glab": _Service("the GitLab API (gitlab.com)", frozenset({
        "help", "version", "completion", "config", "alias"}), ("--hostname",), "R"),
    "hub": _Service("the GitHub API (api.github.com)", frozenset({"help", "version"}), ()),
    "terraform": _Service("the Terraform registry and providers' APIs", frozenset({
        "fmt", "validate", "version", "graph", "console", "output", "show", "workspace",
        "-help", "-version", "help", "providers"}), ()),
    "tofu": _Service("the OpenTofu registry and providers' APIs", frozenset({
        "fmt", "validate", "version", "graph", "console", "output", "show", "workspace",
        "-help", "-version", "help"}), ()),
    "pulumi": _Service("the Pulumi service and providers' APIs", frozenset({
        "version", "help", "about", "gen-completion"}), ()),
    "rclone": _Service("the remotes of rclone's configuration", frozenset({
        "version", "help", "config", "listremotes", "genautocomplete", "completion",
        "obscure"}), ()),
    "twine": _Service("the package index (upload.pypi.org)", frozenset({"check"}),
                      ("--repository-url",)),
    "ngrok": _Service("the ngrok service", frozenset({"version", "help", "completion"}), ()),
    "cloudflared": _Service("Cloudflare", frozenset({"version", "help"}), ()),
}


def _h_service(w: _Walker, call: _Call) -> None:
    spec = _SERVICES[call.name]
    if _only_info(call) or not call.args:
        return
    opts, pos = getopt(call.args, spec.value_opts, [o for o in spec.server_opts
                                                    if o.startswith("--")])
    subs = [p.text for p in pos]
    if subs and subs[0] in spec.local and not (
            call.name in ("kubectl", "oc") and subs[0] == "version"
            and not _has(opts, "--client")):
        return
    if call.name == "rclone" and subs and not any(":" in s for s in subs[1:]):
        return  # only local paths: no remote
    if call.name == "terraform" and subs and subs[0] in ("init", "get") and _has(
            opts, "-backend=false") and _has(opts, "-get=false"):
        return
    servers = [v for o, v in opts if o in spec.server_opts and v is not None]
    for s in servers:
        if not w.add_url(s.text, call.name, dynamic=s.dynamic, default_scheme="https"):
            w.add_host(s.text, None, call.name, dynamic=s.dynamic)
    if not servers:
        w.add_hidden_host(spec.default, call.name)


def handlers() -> dict[str, Handler]:
    out: dict[str, Handler] = {}
    out.update(dict.fromkeys(("sendmail", "mail", "mailx", "s-nail", "bsd-mailx",
                              "heirloom-mailx", "mutt", "neomutt", "msmtp", "ssmtp", "swaks",
                              "sendemail", "mpack"), _h_mail))
    out.update(dict.fromkeys(("nmap", "masscan", "zmap", "nping", "netdiscover", "unicornscan",
                              "rustscan", "naabu", "arp-scan", "fping6"), _h_scanner))
    out.update(dict.fromkeys(("ntpdate", "sntp", "rdate", "htpdate", "ntpd", "chronyd"),
                             _h_ntp))
    out.update(dict.fromkeys(("sshfs", "curlftpfs", "smbclient", "smbget", "smbmap",
                              "ncftp", "ncftpget", "ncftpput", "ncftpls", "rcp", "rsh",
                              "rlogin", "rexec", "rpcclient"), _h_remote_fs))
    out["lftp"] = _h_lftp
    out.update(dict.fromkeys(("docker", "podman", "nerdctl", "docker-compose",
                              "podman-compose", "buildah", "skopeo", "crane", "ctr", "crictl",
                              "regctl", "oras"), _h_container_engine))
    out.update(dict.fromkeys(_SERVICES, _h_service))
    return out


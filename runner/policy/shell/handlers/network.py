"""Network clients: curl, wget, nc, telnet, ssh, scp/sftp, rsync, DNS tools, whois, ping,
openssl, socat, ftp, httpie and other URL fetchers."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from runner.policy.pathnames import absolute, normalize
from runner.policy.shell.context import _Call
from runner.policy.shell.expansion import ALL, NO_LINKS, Recursion
from runner.policy.shell.handlers.files import _FILE_LIST_ADVICE
from runner.policy.shell.hosts import (
    _DEFAULT_PORTS,
    _port,
    scp_remote,
    split_host_port,
    urlsplit_path,
)
from runner.policy.shell.tables import _PROXY_VARS
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt

_RR_TYPES = frozenset({
    "A", "AAAA", "MX", "TXT", "NS", "ANY", "CNAME", "SOA", "PTR", "SRV", "CAA", "DS",
    "DNSKEY", "NSEC", "NSEC3", "RRSIG", "TLSA", "SSHFP", "NAPTR", "HINFO", "AXFR", "IXFR",
    "SPF", "HTTPS", "SVCB", "URI", "LOC", "CERT", "DNAME", "IN", "CH", "HS", "CS",
})


_CURL_VAL = (
    "--url --output --upload-file --data --data-ascii --data-binary --data-raw --data-urlencode "
    "--form --form-string --proxy --preproxy --socks4 --socks4a --socks5 --socks5-hostname "
    "--proxy-user --user --header --proxy-header --user-agent --referer --cookie --cookie-jar "
    "--dump-header --config --max-time --connect-timeout --retry --retry-delay --retry-max-time "
    "--request --resolve --connect-to --cacert --capath --cert --key --cert-type --key-type "
    "--pass --output-dir --write-out --trace --trace-ascii --stderr --netrc-file --interface "
    "--local-port --limit-rate --max-filesize --range --time-cond --continue-at --speed-limit "
    "--speed-time --ciphers --noproxy --oauth2-bearer --aws-sigv4 --unix-socket "
    "--abstract-unix-socket --json --variable --hostpubmd5 --hostpubsha256 --pubkey --crlfile "
    "--dns-servers --doh-url --proxy-cacert --proxy-cert --proxy-key --mail-from --mail-rcpt "
    "--mail-auth --login-options --sasl-authzid --service-name --tls-max --tlsuser "
    "--tlspassword --telnet-option --tftp-blksize --ftp-port --ftp-account --ftp-method "
    "--keepalive-time --max-redirs --parallel-max --quote --etag-save --etag-compare "
    "--create-file-mode --ipfs-gateway --proto --proto-redir --proto-default --random-file "
    "--egd-file --dns-interface --dns-ipv4-addr --dns-ipv6-addr --krb --delegation "
    "--happy-eyeballs-timeout-ms --expect100-timeout --proxy-service-name --socks5-gssapi-service "
    "--unix-socket --curves --proxy-ciphers --hsts --alt-svc --trace-config --url-query"
)


def _h_curl(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "AbcCdDeEFHKmoPQrTtuUwxXyYz", _CURL_VAL.split())
    urls = list(pos) + _vals(opts, "--url")
    for u in urls:
        w.add_url(u.text, "curl-argument", dynamic=u.dynamic, default_scheme="http")
    for p in _vals(opts, "-x", "--proxy", "--preproxy"):
        w.add_url(p.text, "curl-proxy", dynamic=p.dynamic, default_scheme="http")
        if "://" not in p.text:
            host, port = split_host_port(p.text, 1080)
            w.add_host(host, port, "curl-proxy", dynamic=p.dynamic)
    for p in _vals(opts, "--socks4", "--socks4a", "--socks5", "--socks5-hostname"):
        host, port = split_host_port(p.text.partition("://")[2] or p.text, 1080)
        w.add_host(host, port, "curl-proxy", dynamic=p.dynamic)
    for r in _vals(opts, "--resolve"):
        parts = r.text.lstrip("+").split(":", 2)
        if len(parts) == 3:
            for addr in parts[2].split(","):
                w.add_host(addr.strip("[]"), _port(parts[1]), "curl-resolve", dynamic=r.dynamic)
    for r in _vals(opts, "--connect-to"):
        parts = r.text.split(":")
        if len(parts) >= 4 and parts[2]:
            w.add_host(parts[2], _port(parts[3]), "curl-resolve", dynamic=r.dynamic)
    for d in _vals(opts, "--doh-url"):
        w.add_url(d.text, "dns", dynamic=d.dynamic)
    for d in _vals(opts, "--dns-servers"):
        for s in d.text.split(","):
            host, port = split_host_port(s, 53)
            w.add_host(host, port, "dns", dynamic=d.dynamic)
    for v in _vals(opts, "-o", "--output", "-c", "--cookie-jar", "-D", "--dump-header",
                   "--trace", "--trace-ascii", "--stderr", "--etag-save", "--hsts", "--alt-svc"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "-K", "--config"):
        # a config file can hold url=, proxy=, resolve= ...: the hosts are not in the command
        w.add_hidden_host(f"the URLs and proxies of the curl config {v.text}", "curl-config")
    for v in _vals(opts, "-T", "--upload-file", "-K", "--config", "--netrc-file", "--cacert",
                   "-E", "--cert", "--key", "--etag-compare", "--unix-socket", "--crlfile",
                   "--pubkey", "--proxy-cacert", "--proxy-cert", "--proxy-key"):
        w.add_path(v, "read", call)
    for o, ov in opts:
        if ov is None:
            continue
        ref = _curl_file_ref(o, ov.text)
        if ref and ref != "-":
            w.add_path(ov.sub(ref), "read", call)
    for v in _vals(opts, "-b", "--cookie"):
        if "=" not in v.text:
            w.add_path(v, "read", call)
    if _has(opts, "-n", "--netrc", "--netrc-optional"):
        w.add_path(Word("~/.netrc"), "read", call, implicit=True)
    if _has(opts, "-O", "--remote-name", "--remote-name-all"):
        outdir = _vals(opts, "--output-dir")
        for u in urls:
            name = posixpath.basename(urlsplit_path(u.text)) or "index.html"
            text = f"{outdir[-1].text.rstrip('/')}/{name}" if outdir else name
            w.add_path(Word(text, u.dynamic), "write", call, implicit=True)


def _curl_file_ref(option: str, value: str) -> str:
    """The file an option value reads with curl's ``@file`` / ``<file`` syntax ("" if none)."""
    if option in ("-d", "--data", "--data-ascii", "--data-binary", "--json", "-w",
                  "--write-out", "-H", "--header", "--proxy-header"):
        return value[1:] if value.startswith("@") else ""
    if option in ("-F", "--form"):
        name, eq, rest = value.partition("=")
        if eq and rest[:1] in ("@", "<"):
            return rest[1:].split(";")[0]
        return ""
    if option in ("--data-urlencode", "--variable"):
        if value.startswith("@"):
            return value[1:]
        name, at, rest = value.partition("@")
        return rest if at and "=" not in name else ""
    return ""


_WGET_VAL = (
    "--output-file --append-output --output-document --directory-prefix --input-file --execute "
    "--base --tries --timeout --wait --level --quota --user-agent --accept --reject --domains "
    "--include-directories --exclude-directories --header --user --password --post-data "
    "--post-file --body-data --body-file --method --load-cookies --save-cookies --ca-certificate "
    "--certificate --private-key --config --limit-rate --referer --bind-address --dns-timeout "
    "--connect-timeout --read-timeout --waitretry --proxy-user --proxy-password --http-user "
    "--http-password --ftp-user --ftp-password --default-page --restrict-file-names --cut-dirs "
    "--progress --local-encoding --remote-encoding --ca-directory --crl-file --pinnedpubkey "
    "--random-file --egd-file --warc-file --rejected-log --secure-protocol --ciphers "
    "--exclude-domains --follow-tags --ignore-tags --use-askpass --hsts-file"
)


def _h_wget(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "oaOPiebtTwlQUARDIX", _WGET_VAL.split())
    for u in pos:
        w.add_url(u.text, "wget-argument", dynamic=u.dynamic, default_scheme="http")
    for e in _vals(opts, "-e", "--execute"):
        key, _, val = e.text.partition("=")
        k = key.strip().lower().replace("-", "_")
        if k in _PROXY_VARS:
            w.add_url(val.strip(), "wget-proxy", dynamic=e.dynamic, default_scheme="http")
        elif k == "input":
            w.add_hidden_host(f"the URLs listed in {val.strip()}", "wget-input")
            w.add_path(e.sub(val.strip()), "read", call)
    for v in _vals(opts, "--config"):
        w.add_hidden_host(f"the URLs and proxies of the wget config {v.text}", "wget-config")
    for v in _vals(opts, "-o", "--output-file", "-a", "--append-output", "--save-cookies",
                   "--warc-file", "--rejected-log", "--hsts-file"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "--post-file", "--body-file", "--load-cookies", "--ca-certificate",
                   "--certificate", "--private-key", "--config", "--crl-file"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-i", "--input-file"):
        if "://" in v.text:
            w.add_url(v.text, "wget-argument", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
            w.add_hidden_host(f"the URLs listed in {v.text}", "wget-input")
    out = _vals(opts, "-O", "--output-document")
    if out:
        for v in out:
            w.add_path(v, "write", call)
        return
    prefix = _vals(opts, "-P", "--directory-prefix")
    for u in pos:
        name = posixpath.basename(urlsplit_path(u.text)) or "index.html"
        text = f"{prefix[-1].text.rstrip('/')}/{name}" if prefix else name
        w.add_path(Word(text, u.dynamic), "write", call, implicit=True)


def _h_nc(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "IiMmOPpqsTVWwXxecog", [
        "--exec", "--sh-exec", "--lua-exec", "--output", "--hex-dump", "--proxy", "--proxy-type",
        "--proxy-auth", "--source-port", "--source", "--wait", "--idle-timeout", "--max-conns",
        "--allow", "--allowfile", "--deny", "--denyfile", "--append-output", "--ssl-cert",
        "--ssl-key", "--ssl-trustfile", "--ssl-ciphers", "--ssl-servername", "--ssl-alpn",
        "--delay",
    ])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "-e", "-c", "--exec", "--sh-exec", "--lua-exec"):
        w.add_opaque("network-exec", label)
    for p in _vals(opts, "-x", "--proxy"):
        host, port = split_host_port(p.text, 1080)
        w.add_host(host, port, "nc-proxy", dynamic=p.dynamic)
    for v in _vals(opts, "-o", "--output", "--hex-dump"):
        w.add_path(v, "write", call)
    if _has(opts, "-l", "--listen"):
        return
    if _has(opts, "-U", "--unixsock"):
        for p in pos[:1]:
            w.add_path(p, "read", call)  # a local socket: where it is decides
        return
    if pos:
        target = pos[0]
        tport = _port(pos[1].text) if len(pos) > 1 else None
        if tport is None and target.text.count(":") == 1 and len(pos) == 1:
            h, tport = split_host_port(target.text)
            w.add_host(h, tport, "nc", dynamic=target.dynamic)
        else:
            w.add_host(target.text, tport, "nc", dynamic=target.dynamic)


def _h_telnet(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "lenbkX")
    if not pos:
        w.add_hidden_host("the server telnet opens from its commands", "telnet")
    if pos:
        port = _port(pos[1].text) if len(pos) > 1 else 23
        w.add_host(split_host_port(pos[0].text)[0] if "@" in pos[0].text else pos[0].text,
                   port, "telnet", dynamic=pos[0].dynamic)


def _ssh_o(w: _Walker, call: _Call, values: Sequence[Word], label: str) -> tuple[int | None, list[str]]:
    port: int | None = None
    extra_hosts: list[str] = []
    for o in values:
        k, _, v = o.text.replace(" ", "=", 1).partition("=")
        key = k.strip().lower()
        if key in ("proxycommand", "localcommand", "knownhostscommand", "permitlocalcommand",
                   "remotecommand") and v.strip().lower() not in ("none", "no"):
            w.add_opaque("ssh-proxy-command", label)
        elif key == "port":
            port = _port(v.strip())
        elif key == "proxyjump":
            extra_hosts.extend(v.split(","))
        elif key == "hostname":
            extra_hosts.append(v.strip())
        elif key in ("identityfile", "userknownhostsfile", "certificatefile", "controlpath"):
            w.add_path(o.sub(v.strip()), "read", call)
    return port, extra_hosts


def _h_ssh(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "BbcDEeFIiJLlmOopQRSWw", [], stop_at_positional=True)
    label = " ".join(a.text for a in call.argv)
    port_vals = _vals(opts, "-p")
    port = _port(port_vals[-1].text) if port_vals else None
    oport, extra = _ssh_o(w, call, _vals(opts, "-o"), label)
    port = port or oport or 22
    for v in _vals(opts, "-i", "-F"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-E"):
        w.add_path(v, "write", call)
    for j in _vals(opts, "-J"):
        for hop in j.text.split(","):
            host, hport = split_host_port(hop.partition("://")[2] or hop, 22)
            w.add_host(host, hport, "ssh-jump", dynamic=j.dynamic)
    for h in extra:
        host, hport = split_host_port(h, 22)
        w.add_host(host, hport, "ssh-jump")
    if pos:
        dest = pos[0]
        if dest.text.startswith("ssh://"):
            w.add_url(dest.text, "ssh", dynamic=dest.dynamic)
        else:
            host = dest.text.rpartition("@")[2]
            w.add_host(host.strip("[]"), port, "ssh", dynamic=dest.dynamic)
        if len(pos) > 1 and call.name in ("ssh", "autossh"):
            # the remote shell runs the words joined by spaces (on localhost: this container)
            rest = pos[1:]
            remote = Word(" ".join(r.text for r in rest), any(r.dynamic for r in rest))
            w.shell_string(remote, call, label)


def _h_ssh_keyscan(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "pTtf")
    pv = _vals(opts, "-p")
    for p in pos:
        for h in p.text.split(","):
            w.add_host(h, _port(pv[-1].text) if pv else 22, "ssh", dynamic=p.dynamic)


def _h_scp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cFiJloPSXD" + ("bBRs" if call.name == "sftp" else ""), [])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "-S"):
        w.add_opaque("ssh-proxy-command", label)
    pv = _vals(opts, "-P")
    port = _port(pv[-1].text) if pv else None
    oport, extra = _ssh_o(w, call, _vals(opts, "-o"), label)
    port = port or oport or 22
    for v in _vals(opts, "-i", "-F"):
        w.add_path(v, "read", call)
    for j in _vals(opts, "-J"):
        for hop in j.text.split(","):
            host, hport = split_host_port(hop, 22)
            w.add_host(host, hport, "ssh-jump", dynamic=j.dynamic)
    for h in extra:
        w.add_host(*split_host_port(h, 22), "ssh-jump")
    if call.name == "sftp":
        if not pos:
            w.add_hidden_host("the server sftp opens from its commands", "sftp")
        if pos:
            t = pos[0].text
            if t.startswith("sftp://"):
                w.add_url(t, "sftp", dynamic=pos[0].dynamic)
            else:
                w.add_host(scp_remote(t) or t.rpartition("@")[2], port, "sftp",
                           dynamic=pos[0].dynamic)
        for v in _vals(opts, "-b"):
            w.add_path(v, "read", call)
        return
    _remote_copy(w, call, pos, port, "scp", recursive=ALL if _has(opts, "-r") else None)


def _remote_copy(w: _Walker, call: _Call, pos: Sequence[Word], port: int | None, via: str,
                 daemon_port: int | None = None, recursive: Recursion | None = None) -> None:
    for i, p in enumerate(pos):
        t = p.text
        last = i == len(pos) - 1 and len(pos) > 1
        if "://" in t:
            w.add_url(t, via, dynamic=p.dynamic)
            continue
        if "::" in t and not t.startswith("["):
            module_host = t.partition("::")[0].rpartition("@")[2]
            if module_host:
                w.add_host(module_host, daemon_port or 873, via, dynamic=p.dynamic)
                continue
        host = scp_remote(t)
        if host is not None:
            w.add_host(host, port, via, dynamic=p.dynamic)
            continue
        w.add_path(p, "write" if last else "read", call, recursive=None if last else recursive)


_RSYNC_VAL = (
    "--rsh --rsync-path --port --filter --exclude --exclude-from --include --include-from "
    "--files-from --password-file --log-file --temp-dir --partial-dir --backup-dir --suffix "
    "--chmod --chown --usermap --groupmap --timeout --contimeout --bwlimit --max-size --min-size "
    "--max-delete --compare-dest --copy-dest --link-dest --block-size --modify-window "
    "--out-format --log-file-format --address --sockopts --outbuf --info --debug "
    "--compress-level --compress-choice --checksum-choice --skip-compress --remote-option "
    "--write-batch --only-write-batch --read-batch --protocol --iconv --stop-after --stop-at "
    "--copy-as --early-input"
)


def _h_rsync(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "eBfTM", _RSYNC_VAL.split())
    port = 22
    for rsh in _vals(opts, "-e", "--rsh"):
        w.shell_string(rsh, call, rsh.text)  # the remote shell program is run
        m = re.search(r"(?:^|\s)-p\s*(\d+)", rsh.text)
        if m:
            port = int(m.group(1))
    dp = _vals(opts, "--port")
    for v in _vals(opts, "--exclude-from", "--include-from", "--files-from", "--password-file",
                   "--read-batch"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "--log-file", "--write-batch", "--only-write-batch"):
        w.add_path(v, "write", call)
    if any(v.text == "-" for v in _vals(opts, "--files-from")):
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    recursive: Recursion | None = None
    if _has(opts, "-r", "-a", "--recursive", "--archive"):
        # links are copied as links (-a) or skipped (-r) unless -L / --copy-*links
        recursive = ALL if _has(opts, "-L", "--copy-links", "--copy-unsafe-links",
                                "--copy-dirlinks", "-k") else NO_LINKS
    _remote_copy(w, call, pos, port, "rsync", _port(dp[-1].text) if dp else None, recursive)
    if len(pos) > 1 and _has(opts, "-a", "--archive", "-l", "--links") and not _has(
        opts, "-L", "--copy-links"
    ) and all(scp_remote(p.text) is None and "::" not in p.text for p in pos):
        _copied_links(w, call, pos[:-1], pos[-1])


def _copied_links(w: _Walker, call: _Call, sources: Sequence[Word], dest: Word) -> None:
    """A local copy that keeps symlinks as links: where a source holds links, the
    destination holds them too, from here on in the command."""
    for s in sources:
        if s.dynamic or any(
            w.tree_has_links(normalize(absolute(s.text, c))) for c in call.ctx.cwds
        ):
            w.may_hold_links(dest, call)
            return


def _h_dns(w: _Walker, call: _Call) -> None:
    name = call.name
    if name in ("dig", "kdig", "drill"):
        opts, pos = getopt(call.args, "bcfkpqtxyo" if name != "drill" else "ckoprstwa")
        pv = _vals(opts, "-p")
        port = _port(pv[-1].text) if pv else 53
        for v in _vals(opts, "-f", "-k"):
            w.add_path(v, "read", call)
        names = [v for v in _vals(opts, "-x", "-q")]
        for p in pos:
            if p.text.startswith("@"):
                w.add_host(p.text[1:], port, "dns-server", dynamic=p.dynamic)
            elif p.text.startswith("+") or p.text.upper() in _RR_TYPES:
                continue
            else:
                names.append(p)
        for n in names:
            w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    if name == "getent":
        if call.args and call.args[0].text in ("hosts", "ahosts", "ahostsv4", "ahostsv6",
                                                "networks"):
            for n in call.args[1:]:
                w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    if name in ("resolvectl", "systemd-resolve"):
        args = [a for a in call.args if not a.text.startswith("-")]
        if args and args[0].text == "query":
            args = args[1:]
        for n in args:
            w.add_host(n.text, 53, "dns", dynamic=n.dynamic)
        return
    opts, pos = getopt(call.args, "cNRtWm" if name == "host" else "")
    pos = [p for p in pos if not p.text.startswith("-")]
    if pos:
        w.add_host(pos[0].text, 53, "dns", dynamic=pos[0].dynamic)
    if len(pos) > 1:
        w.add_host(pos[1].text, 53, "dns-server", dynamic=pos[1].dynamic)


def _h_whois(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "hpTtgiIsvq")
    for h in _vals(opts, "-h"):
        w.add_host(h.text, 43, "whois", dynamic=h.dynamic)
    for p in pos:
        w.add_host(p.text, 43, "whois", dynamic=p.dynamic)


def _h_ping(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "cifIlmMpQsStTwWgGzqNFmPrxAB")
    for p in pos:
        if not p.text.isdigit():
            w.add_host(p.text, None, "ping", dynamic=p.dynamic)
            return


def _h_openssl(w: _Walker, call: _Call) -> None:
    args = call.args
    if not args:
        return
    sub = args[0].text
    rest = args[1:]
    texts = [a.text for a in rest]
    for i, t in enumerate(texts):
        if i + 1 >= len(rest):
            break
        v = rest[i + 1]
        if t in ("-connect",):
            host, port = split_host_port(v.text, 443)
            w.add_host(host, port, "openssl", dynamic=v.dynamic)
        elif t in ("-host",):
            pv = texts[texts.index("-port") + 1] if "-port" in texts[:-1] else "443"
            w.add_host(v.text, _port(pv), "openssl", dynamic=v.dynamic)
        elif t in ("-proxy",):
            host, port = split_host_port(v.text, 8080)
            w.add_host(host, port, "openssl", dynamic=v.dynamic)
        elif t in ("-in", "-inkey", "-key", "-kfile", "-passin", "-CAfile", "-cert", "-signkey"):
            if not v.text.startswith(("pass:", "env:", "fd:", "stdin")):
                w.add_path(v.sub(v.text.partition("file:")[2] or v.text), "read", call)
        elif t in ("-out", "-keyout"):
            w.add_path(v, "write", call)
    if sub == "s_client" and rest and not rest[-1].text.startswith("-") and "-connect" not in texts:
        last = rest[-1]
        if ":" in last.text:
            host, port = split_host_port(last.text, 443)
            w.add_host(host, port, "openssl", dynamic=last.dynamic)


_SOCAT_HOST = re.compile(r"^(tcp[46]?|tcp-connect|tcp[46]?-connect|udp[46]?|udp-connect|"
                         r"udp[46]?-connect|udp-sendto|openssl|openssl-connect|ssl|sctp-connect|"
                         r"dccp-connect)$", re.IGNORECASE)


def _h_socat(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "dlLTbgs")
    label = " ".join(a.text for a in call.argv)
    for p in pos[:2]:
        head, _, rest = p.text.partition(":")
        kind = head.lower()
        target = rest.split(",")[0]
        if kind in ("exec", "system"):
            w.add_opaque("network-exec", label)
        elif _SOCAT_HOST.match(kind):
            host, _, port = target.rpartition(":")
            w.add_host(host or target, _port(port), "socat", dynamic=p.dynamic)
        elif kind in ("socks4", "socks4a", "socks5", "proxy", "proxy-connect", "socks"):
            fields = target.split(":")
            if fields:
                w.add_host(fields[0], 1080, "socat", dynamic=p.dynamic)
            if len(fields) >= 3:
                w.add_host(fields[1], _port(fields[2]), "socat", dynamic=p.dynamic)
        elif kind in ("open", "create", "gopen", "file"):
            w.add_path(p.sub(target), "write" if kind == "create" else "read", call)
        elif kind in ("unix-connect", "unix-client", "unix-sendto", "unix", "local",
                      "abstract-connect", "abstract-client"):
            w.add_path(p.sub(target), "read", call)  # a local socket: where it is decides


def _h_ftp(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "PpoTuUNrqs" if call.name != "tftp" else "lmcv")
    if pos:
        t = pos[0].text
        if "://" in t:
            w.add_url(t, call.name, dynamic=pos[0].dynamic)
        else:
            port = _port(pos[1].text) if len(pos) > 1 else _DEFAULT_PORTS.get(call.name, 21)
            w.add_host(t.rpartition("@")[2], port, call.name, dynamic=pos[0].dynamic)
    elif call.stdin is not None or not call.args or any(a.text.startswith("-") for a in call.args):
        # commands (`open HOST`) come from stdin or the terminal
        w.add_hidden_host(f"the server {call.name} opens from its commands", call.name)


def _h_httpie(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "aAsvpPoh", ["--auth", "--auth-type", "--session", "--output",
                                               "--print", "--proxy", "--verify", "--cert",
                                               "--cert-key", "--style", "--timeout"])
    methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
    for p in pos:
        if p.text.upper() in methods:
            continue
        scheme = "https" if call.name == "https" else "http"
        if p.text.startswith(":"):
            w.add_host("localhost", _port(p.text[1:]), "http-argument")
        else:
            w.add_url(p.text, "http-argument", dynamic=p.dynamic, default_scheme=scheme)
        break


def _h_fetcher(w: _Walker, call: _Call) -> None:
    """Other URL-taking clients (aria2c, lynx, w3m, links, xh ...): positionals are URLs."""
    opts, pos = getopt(call.args, "dodxsjoi", ["--input-file"])
    for v in _vals(opts, "-i", "--input-file"):
        w.add_path(v, "read", call)
        w.add_hidden_host(f"the URLs listed in {v.text}", f"{call.name}-input")
    for p in pos:
        if "://" in p.text or re.match(r"^[\w.-]+\.[a-z]{2,}(/|:|$)", p.text):
            w.add_url(p.text, f"{call.name}-argument", dynamic=p.dynamic, default_scheme="http")

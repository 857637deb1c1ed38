# Network and opaque shell: no host unless allowlisted, and nothing the shell analysis
# cannot see through (which could hide network access, secret reads or writes anywhere).
#
# Tool calls (`deny`):
# - host_not_allowed: every host a call would contact (URLs, network programs, the package
#   index implied by `pip install`, /dev/tcp, database and mail clients, ...) must be on the
#   agent phase's allowlist (`agent_hosts`: allowed_hosts plus the hosts of allowed_presets;
#   empty by default) or, with allow_loopback (on by default), a loopback name or address:
#   localhost, 127.0.0.0/8, ::1. The container has its own network namespace, so its loopback
#   reaches only servers the agent started in it, nothing of the host; 0.0.0.0 and other
#   local-but-not-loopback addresses are not loopback. An entry matches the host exactly
#   (case-insensitive, trailing dot ignored); "*.example.com" matches its subdomains; an entry
#   "host:port" matches that port only. A host that is only known when the command runs
#   (`dynamic`: a variable or substitution in it, URLs read from a file such as `wget -i`/
#   `curl -K`) is never allowed: it cannot be checked.
# - WebFetch (Claude Code's tool; derivation gives its URL's host with `via: "webfetch"`, the
#   URL's scheme and its port, the scheme's default when the URL names none):
#   url_not_http when the scheme is not http or https, or the URL has no host;
#   host_not_allowed unless host:port is allowed for the agent phase exactly as the egress
#   proxy would allow the connection (connect_deny: no loopback exception, an entry without
#   a port allows egress_default_ports).
# - opaque_shell: eval, a variable or substitution as the program, `bash -c "$x"`,
#   `... | sh`, inline interpreter code (python -c, node -e, perl -e, ...).
# - shell_not_parsed: the command did not parse as shell.
#
# Connections (`connect_deny`, input kind "connect": what the egress proxy is asked for):
# - connect_not_allowed: host:port must match an entry of the phase's allowlist: the agent
#   phase's `agent_hosts`, the setup phase's `setup_hosts` (setup_allowed_hosts plus the
#   hosts of setup_presets). An entry without a port allows egress_default_ports (80, 443).
# - bad_phase: the phase is neither "setup" nor "agent".
package sandbox.network

import rego.v1

deny := [] if {
	# the common case: no host, nothing opaque, parsed (or not a command)
	count(input.hosts) == 0
	not input.shell.opaque[0]
	not input.shell.parsed == false
} else := [r |
	# Claude Code's WebFetch: its URL's host, as the egress proxy would decide the connection
	input.tool.name == "WebFetch"
	some h in input.hosts
	r := webfetch_reason(h)
	r != null
] if {
	input.tool.name == "WebFetch"
} else := array.concat(
	array.concat(
		[host_reason(h) | some h in input.hosts; not host_ok(h)],
		[opaque_reason(o) | some o in input.shell.opaque],
	),
	[reason("shell_not_parsed", sprintf("the command could not be parsed as shell; %s", [plain])) |
		input.tool.name == "Bash"
		input.shell.parsed == false
	],
)

reason(rule, msg) := {"policy": "network", "rule": rule, "msg": msg}

host_ok(h) if {
	not h.dynamic == true
	host_allowed(trim_suffix(lower(h.host), "."), object.get(h, "port", null))
}

host_ok(h) if {
	not h.dynamic == true
	data.settings.allow_loopback == true
	loopback(trim_suffix(lower(h.host), "."))
}

# The names /etc/hosts gives the loopback addresses in the image, and the addresses.
loopback_names := {"localhost", "ip6-localhost", "ip6-loopback", "::1", "0:0:0:0:0:0:0:1"}

octet := `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`

loopback_regex := concat("", [`^(::ffff:)?127\.`, octet, `\.`, octet, `\.`, octet, `$`])

loopback(host) if host in loopback_names

loopback(host) if regex.match(loopback_regex, host)

# A host a tool call names (its port, when known) against the agent phase's allowlist; the
# proxy decides the port of each connection (connect_deny).
host_allowed(host, port) := true if {
	host in agent_hosts
} else := true if {
	some entry in agent_hosts
	[pattern, entry_port] := split_entry(lower(entry))
	host_matches(trim_suffix(pattern, "."), host)
	any_port_matches(entry_port, port)
} else := false

any_port_matches(entry_port, _) if entry_port == null

any_port_matches(_, port) if port == null

any_port_matches(entry_port, port) if entry_port == port

host_reason(h) := reason(
	"host_not_allowed",
	sprintf("network access to %s is not allowed: the command does not show the host (it comes from a variable, a substitution, a file or the program's own configuration), so it cannot be checked (%s). Allowed hosts: %s%s; name such a host literally in the command", [host_text(h), no_network_note, data.sandbox.lib.describe(agent_hosts), loopback_text]),
) if {
	h.dynamic == true
} else := reason(
	"host_not_allowed",
	sprintf("network access to %s is not allowed (%s); allowed hosts: %s%s. Use the packages already installed, and note a missing dependency in issues.md", [host_text(h), no_network_note, data.sandbox.lib.describe(agent_hosts), loopback_text]),
)

loopback_text := "; servers you start in the sandbox are reachable on localhost (127.0.0.1, ::1)" if {
	data.settings.allow_loopback == true
} else := ""

no_network_note := "the sandbox has no network" if {
	count(agent_hosts) == 0
} else := "only the allowed hosts are reachable, through the proxy"

# --- WebFetch ------------------------------------------------------------------------------

webfetch_reason(h) := reason(
	"url_not_http",
	sprintf("WebFetch fetches http and https URLs only; %q is not one (scheme %q)", [object.get(input.tool.input, "url", ""), object.get(h, "scheme", "")]),
) if {
	not object.get(h, "scheme", "") in {"http", "https"}
} else := reason(
	"url_not_http",
	sprintf("WebFetch needs a URL with a host; %q has none", [object.get(input.tool.input, "url", "")]),
) if {
	h.host == ""
} else := null if {
	agent_connect_ok(trim_suffix(lower(h.host), "."), h.port)
} else := reason(
	"host_not_allowed",
	sprintf("WebFetch of %s is not allowed: %s:%v is not on the egress allowlist of the agent phase (%s); allowed hosts: %s", [
		object.get(input.tool.input, "url", ""), h.host, h.port, no_network_note,
		data.sandbox.lib.describe(agent_hosts),
	]),
)

agent_connect_ok(host, port) if {
	some entry in agent_hosts
	[pattern, entry_port] := split_entry(lower(entry))
	host_matches(trim_suffix(pattern, "."), host)
	connect_port_matches(entry_port, port)
}

# --- allowlists ----------------------------------------------------------------------------

setting(key) := object.get(data.settings, key, [])

preset_hosts(names) := [h |
	some name in names
	some h in object.get(object.get(data.settings, "egress_presets", {}), name, [])
]

# The agent phase: allowed_hosts (data.json plus `run --allow-host`) and allowed_presets.
agent_hosts := array.concat(setting("allowed_hosts"), preset_hosts(setting("allowed_presets")))

# The setup phase (runner-run installs): setup_allowed_hosts and setup_presets.
setup_hosts := array.concat(setting("setup_allowed_hosts"), preset_hosts(setting("setup_presets")))

phase_hosts := {"agent": agent_hosts, "setup": setup_hosts}

# An entry as [host pattern, port or null]: "host", "host:port", "[v6]", "[v6]:port", a bare
# IPv6 literal (no port), "*.example.com" and "*.example.com:port". runner/egress/hosts.py
# parses them the same way and refuses malformed entries when the data is loaded.
split_entry(e) := [substring(e, 1, i - 1), bracket_port(substring(e, i + 1, -1))] if {
	startswith(e, "[")
	i := indexof(e, "]")
	i > 0
} else := [parts[0], to_number(parts[1])] if {
	parts := split(e, ":")
	count(parts) == 2
	regex.match(`^[0-9]{1,5}$`, parts[1])
} else := [e, null]

bracket_port(rest) := to_number(substring(rest, 1, -1)) if {
	regex.match(`^:[0-9]{1,5}$`, rest)
} else := null

host_matches(pattern, host) if pattern == host

host_matches(pattern, host) if {
	startswith(pattern, "*.")
	endswith(host, substring(pattern, 1, -1))
}

connect_port_matches(entry_port, port) if {
	entry_port == null
	port in object.get(data.settings, "egress_default_ports", [80, 443])
}

connect_port_matches(entry_port, port) if {
	entry_port != null
	entry_port == port
}

# --- connections ---------------------------------------------------------------------------

connect_deny := [reason(
	"bad_phase",
	sprintf("connection in an unknown phase %v; the phases are setup and agent", [object.get(input.connect, "phase", null)]),
)] if {
	not input.connect.phase in {"setup", "agent"}
} else := [] if {
	host := trim_suffix(lower(input.connect.host), ".")
	some entry in phase_hosts[input.connect.phase]
	[pattern, entry_port] := split_entry(lower(entry))
	host_matches(trim_suffix(pattern, "."), host)
	connect_port_matches(entry_port, input.connect.port)
} else := [reason("connect_not_allowed", connect_message)]

connect_message := sprintf("connection to %v:%v (%v, %v phase) is not allowed by the egress allowlist; allowed hosts: %s%s", [
	input.connect.host, input.connect.port, object.get(input.connect, "method", "?"),
	input.connect.phase, data.sandbox.lib.describe(phase_hosts[input.connect.phase]), connect_hint,
])

connect_hint := ". Use the packages already installed, and note a missing dependency in issues.md" if {
	input.connect.phase == "agent"
} else := " (add it to the setup allowlist: setup_allowed_hosts or setup_presets)"

host_text(h) := sprintf("%v:%v (%v)", [h.host, h.port, object.get(h, "via", "?")]) if {
	is_number(h.port)
} else := sprintf("%v (%v)", [h.host, object.get(h, "via", "?")])

plain := "write the command plainly so each program and its arguments are visible: no eval, no bash -c/sh -c with variables, no piping into a shell, no inline interpreter code (python -c, node -e, perl -e); put the code in a script file under backend/ and run it (for example python backend/scripts/task.py)"

opaque_reason(o) := reason(
	"opaque_shell",
	sprintf("the command uses %v (%v), which hides what it runs; %s", [o.construct, snippet(object.get(o, "text", "")), plain]),
)

snippet(t) := sprintf("%q", [t]) if {
	count(t) <= 80
} else := sprintf("%q...", [substring(t, 0, 80)])

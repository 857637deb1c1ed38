# Network and opaque shell: no host unless allowlisted, and nothing the shell analysis
# cannot see through (which could hide network access, secret reads or writes anywhere).
#
# - host_not_allowed: every host a call would contact (URLs, network programs, the package
#   index implied by `pip install`, /dev/tcp, database and mail clients, ...) must be in
#   allowed_hosts (empty by default) or, with allow_loopback (on by default), a loopback
#   name or address: localhost, 127.0.0.0/8, ::1. The container has its own network
#   namespace, so its loopback reaches only servers the agent started in it, nothing of the
#   host; 0.0.0.0 and other local-but-not-loopback addresses are not loopback. An entry
#   matches the host exactly (case-insensitive, trailing dot ignored); "*.example.com"
#   matches its subdomains. A host that is only known when the command runs (`dynamic`: a
#   variable or substitution in it, URLs read from a file such as `wget -i`/`curl -K`) is
#   never allowed: it cannot be checked.
# - opaque_shell: eval, a variable or substitution as the program, `bash -c "$x"`,
#   `... | sh`, inline interpreter code (python -c, node -e, perl -e, ...).
# - shell_not_parsed: the command did not parse as shell.
package sandbox.network

import rego.v1

deny := [] if {
	# the common case: no host, nothing opaque, parsed (or not a command)
	count(input.hosts) == 0
	not input.shell.opaque[0]
	not input.shell.parsed == false
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
	host_allowed(trim_suffix(lower(h.host), "."))
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

host_allowed(host) := true if {
	host in data.settings.allowed_hosts
} else := true if {
	some entry in data.settings.allowed_hosts
	startswith(entry, "*.")
	endswith(host, substring(entry, 1, -1))
} else := false

host_reason(h) := reason(
	"host_not_allowed",
	sprintf("network access to %s is not allowed: the command does not show the host (it comes from a variable, a substitution, a file or the program's own configuration), so it cannot be checked; the sandbox has no network. Allowed hosts: %s%s; name such a host literally in the command", [host_text(h), data.sandbox.lib.describe(data.settings.allowed_hosts), loopback_text]),
) if {
	h.dynamic == true
} else := reason(
	"host_not_allowed",
	sprintf("network access to %s is not allowed (the sandbox has no network); allowed hosts: %s%s. Use the packages already installed, and note a missing dependency in issues.md", [host_text(h), data.sandbox.lib.describe(data.settings.allowed_hosts), loopback_text]),
)

loopback_text := "; servers you start in the sandbox are reachable on localhost (127.0.0.1, ::1)" if {
	data.settings.allow_loopback == true
} else := ""

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

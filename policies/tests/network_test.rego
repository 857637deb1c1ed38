package sandbox.network_test

import rego.v1

import data.sandbox.testlib as t

with_hosts(hosts) := object.union(t.bash([["curl", "x"]], []), {"hosts": hosts})

host(name) := {"host": name, "port": 443, "via": "curl-argument"}

with_opaque(construct, text) := object.union(t.bash([["eval", text]], []), {"shell": {
	"parsed": true,
	"opaque": [{"construct": construct, "text": text}],
	"commands": [t.cmd(["eval", text])],
}})

# --- host_not_allowed --------------------------------------------------------------------

test_no_host_by_default if {
	t.denied_by(with_hosts([host("evil.example")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([{"host": "pypi.org", "port": 443, "via": "pip-index"}]), "network", "host_not_allowed")
	t.denied_by(with_hosts([{"host": "10.0.0.1", "via": "dev-tcp"}]), "network", "host_not_allowed")
	t.allowed(with_hosts([]))
}

test_host_names_what_was_denied if {
	d := data.sandbox.decision with input as with_hosts([host("evil.example")])
	contains(d.reasons[0].msg, "evil.example:443")
	contains(d.reasons[0].msg, "allowed hosts: none")
}

test_allowed_hosts if {
	t.allowed(with_hosts([host("pypi.org")])) with data.settings.allowed_hosts as ["pypi.org"]
	t.allowed(with_hosts([host("PyPI.org.")])) with data.settings.allowed_hosts as ["pypi.org"]
	t.denied_by(with_hosts([host("pypi.org.evil.example")]), "network", "host_not_allowed") with data.settings.allowed_hosts as ["pypi.org"]
	t.allowed(with_hosts([host("api.example.com")])) with data.settings.allowed_hosts as ["*.example.com"]
	t.denied_by(with_hosts([host("example.com")]), "network", "host_not_allowed") with data.settings.allowed_hosts as ["*.example.com"]
	t.denied_by(with_hosts([host("evilexample.com")]), "network", "host_not_allowed") with data.settings.allowed_hosts as ["*.example.com"]
}

# --- opaque_shell ------------------------------------------------------------------------

test_opaque_shell if {
	t.denied_by(with_opaque("eval", "eval $CMD"), "network", "opaque_shell")
	t.denied_by(with_opaque("inline-interpreter", "python -c 'import socket'"), "network", "opaque_shell")
	t.denied_by(with_opaque("pipe-to-shell", "base64 -d x | sh"), "network", "opaque_shell")
	d := data.sandbox.decision with input as with_opaque("eval", "eval $CMD")
	contains(d.reasons[0].msg, "script file under backend/")
	t.allowed(t.bash([["python", "backend/scripts/task.py"]], []))
}

# --- shell_not_parsed --------------------------------------------------------------------

test_unparsed_shell if {
	unparsed := object.union(t.bash([], []), {"shell": {"parsed": false, "opaque": [], "commands": []}})
	t.denied_by(unparsed, "network", "shell_not_parsed")
	t.allowed(t.bash([], []))
}

# --- loopback and dynamic hosts ----------------------------------------------------------

test_loopback_allowed if {
	t.allowed(with_hosts([host("localhost")]))
	t.allowed(with_hosts([host("LocalHost.")]))
	t.allowed(with_hosts([host("127.0.0.1")]))
	t.allowed(with_hosts([host("127.255.3.4")]))
	t.allowed(with_hosts([host("::1")]))
	t.allowed(with_hosts([host("::ffff:127.0.0.1")]))
	t.allowed(with_hosts([host("ip6-localhost")]))
}

test_not_loopback if {
	# local but not loopback, look-alikes, malformed addresses
	t.denied_by(with_hosts([host("0.0.0.0")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("localhost.evil.example")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("127.0.0.256")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("127.0.0.1.evil.example")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("10.0.0.5")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("169.254.169.254")]), "network", "host_not_allowed")
	t.denied_by(with_hosts([host("::2")]), "network", "host_not_allowed")
}

test_loopback_setting if {
	t.denied_by(with_hosts([host("localhost")]), "network", "host_not_allowed") with data.settings.allow_loopback as false
	d := data.sandbox.decision with input as with_hosts([host("evil.example")])
	contains(d.reasons[0].msg, "reachable on localhost")
	d2 := data.sandbox.decision with input as with_hosts([host("evil.example")]) with data.settings.allow_loopback as false
	not contains(d2.reasons[0].msg, "localhost")
}

test_dynamic_host_never_allowed if {
	dyn := {"host": "$(cat url.txt)", "via": "curl-argument", "dynamic": true}
	t.denied_by(with_hosts([dyn]), "network", "host_not_allowed")
	d := data.sandbox.decision with input as with_hosts([dyn])
	contains(d.reasons[0].msg, "does not show the host")
	# even when its text looks like an allowed host or loopback
	t.denied_by(with_hosts([object.union(host("localhost"), {"dynamic": true})]), "network", "host_not_allowed")
	t.denied_by(with_hosts([object.union(host("api.example.com"), {"dynamic": true})]), "network", "host_not_allowed") with data.settings.allowed_hosts as ["*.example.com"]
	t.allowed(with_hosts([object.union(host("api.example.com"), {"dynamic": false})])) with data.settings.allowed_hosts as ["*.example.com"]
}

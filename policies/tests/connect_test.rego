package sandbox.connect_test

import rego.v1

import data.sandbox.testlib as t

connect(host, port, phase) := {
	"kind": "connect",
	"connect": {"host": host, "port": port, "phase": phase, "method": "CONNECT", "runtime": "builtin"},
	"run": {"id": "test", "agent": "test", "workspace": "/workspace"},
}

get(host, port) := object.union(connect(host, port, "agent"), {"connect": {"method": "GET"}})

# --- the agent phase -----------------------------------------------------------------------

test_no_connection_by_default if {
	t.denied_by(connect("pypi.org", 443, "agent"), "network", "connect_not_allowed")
	d := data.sandbox.decision with input as connect("evil.example", 443, "agent")
	count(d.reasons) == 1
	contains(d.reasons[0].msg, "evil.example:443")
	contains(d.reasons[0].msg, "allowed hosts: none")
	contains(d.reasons[0].msg, "issues.md")
}

test_allowed_hosts_with_default_ports if {
	t.allowed(connect("pypi.org", 443, "agent")) with data.settings.allowed_hosts as ["pypi.org"]
	t.allowed(get("pypi.org", 80)) with data.settings.allowed_hosts as ["pypi.org"]
	t.allowed(connect("PyPI.org.", 443, "agent")) with data.settings.allowed_hosts as ["pypi.org"]
	t.denied_by(connect("pypi.org", 22, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["pypi.org"]
	t.denied_by(connect("pypi.org.evil.example", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["pypi.org"]
	t.denied_by(connect("evil.example", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["pypi.org"]
}

test_entries_with_a_port_allow_that_port_only if {
	hosts := ["index.test:8080", "10.1.2.3:3141", "[fd00::5]:8443"]
	t.allowed(get("index.test", 8080)) with data.settings.allowed_hosts as hosts
	t.denied_by(connect("index.test", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as hosts
	t.allowed(get("10.1.2.3", 3141)) with data.settings.allowed_hosts as hosts
	t.denied_by(get("10.1.2.3", 80), "network", "connect_not_allowed") with data.settings.allowed_hosts as hosts
	t.allowed(connect("fd00::5", 8443, "agent")) with data.settings.allowed_hosts as hosts
	t.denied_by(connect("fd00::5", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as hosts
}

test_bare_ipv6_literal_entry if {
	t.allowed(connect("2001:db8::1", 443, "agent")) with data.settings.allowed_hosts as ["2001:db8::1"]
	t.denied_by(connect("2001:db8::1", 8080, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["2001:db8::1"]
}

test_wildcards_match_subdomains_only if {
	t.allowed(connect("files.example.com", 443, "agent")) with data.settings.allowed_hosts as ["*.example.com"]
	t.allowed(connect("a.b.example.com", 443, "agent")) with data.settings.allowed_hosts as ["*.example.com"]
	t.denied_by(connect("example.com", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["*.example.com"]
	t.denied_by(connect("evilexample.com", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["*.example.com"]
	t.allowed(connect("x.example.com", 8443, "agent")) with data.settings.allowed_hosts as ["*.example.com:8443"]
	t.denied_by(connect("x.example.com", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["*.example.com:8443"]
}

test_presets if {
	t.allowed(connect("files.pythonhosted.org", 443, "agent")) with data.settings.allowed_presets as ["python"]
	t.allowed(connect("pypi.org", 443, "agent")) with data.settings.allowed_presets as ["python"]
	t.denied_by(connect("evil.example", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_presets as ["python"]
	t.denied_by(connect("pypi.org", 443, "agent"), "network", "connect_not_allowed") with data.settings.allowed_presets as ["nope"]
}

# --- the setup phase -----------------------------------------------------------------------

test_setup_phase_has_its_own_allowlist if {
	# the default setup allowlist is the python preset; the agent phase's is empty
	t.allowed(connect("pypi.org", 443, "setup"))
	t.allowed(connect("files.pythonhosted.org", 443, "setup"))
	t.denied_by(connect("pypi.org", 443, "agent"), "network", "connect_not_allowed")
	t.denied_by(connect("evil.example", 443, "setup"), "network", "connect_not_allowed")
	d := data.sandbox.decision with input as connect("evil.example", 443, "setup")
	contains(d.reasons[0].msg, "setup phase")
	contains(d.reasons[0].msg, "pypi.org")

	# agent additions do not reach setup, setup additions do not reach the agent
	t.denied_by(connect("evil.example", 443, "setup"), "network", "connect_not_allowed") with data.settings.allowed_hosts as ["evil.example"]
	t.denied_by(connect("index.corp", 443, "agent"), "network", "connect_not_allowed") with data.settings.setup_allowed_hosts as ["index.corp"]
	t.allowed(connect("index.corp", 443, "setup")) with data.settings.setup_allowed_hosts as ["index.corp"]
	t.denied_by(connect("pypi.org", 443, "setup"), "network", "connect_not_allowed") with data.settings.setup_presets as []
}

test_unknown_phase if {
	t.denied_by(connect("pypi.org", 443, "verify"), "network", "bad_phase") with data.settings.allowed_hosts as ["pypi.org"]
	t.allowed(connect("pypi.org", 443, "agent")) with data.settings.allowed_hosts as ["pypi.org"]
	t.reasons_complete(connect("pypi.org", 443, "verify"))
}

# --- the two kinds stay apart ----------------------------------------------------------------

test_tool_checks_do_not_apply_to_connections if {
	# no tool, no facts: a tool call would be unknown_tool / malformed_input
	d := data.sandbox.decision with input as connect("pypi.org", 443, "agent") with data.settings.allowed_hosts as ["pypi.org"]
	d == {"allow": true, "reasons": []}
	denied := data.sandbox.decision with input as connect("evil.example", 443, "agent")
	every r in denied.reasons {
		r.policy == "network"
		r.rule == "connect_not_allowed"
	}
	t.reasons_complete(connect("evil.example", 443, "agent"))
}

test_tool_calls_without_kind_are_unchanged if {
	t.allowed(t.read("README.md"))
	t.denied_by(t.call("Execute", []), "input", "unknown_tool")
	t.denied_by({"kind": "tool", "paths": []}, "input", "unknown_tool")

	# a tool input cannot pass as a connection: the kind must be "connect"
	t.denied_by(object.union(t.call("Bash", []), {"connect": {"host": "pypi.org", "port": 443, "phase": "agent"}}), "input", "malformed_input") with data.settings.allowed_hosts as ["pypi.org"]
}

test_tool_calls_see_the_agent_allowlist if {
	inp := object.union(t.bash([["pip", "download", "x"]], []), {"hosts": [{"host": "pypi.org", "port": 443, "via": "pip-index"}]})
	t.denied_by(inp, "network", "host_not_allowed")
	t.allowed(inp) with data.settings.allowed_presets as ["python"]
	t.allowed(inp) with data.settings.allowed_hosts as ["pypi.org:443"]
	t.denied_by(inp, "network", "host_not_allowed") with data.settings.allowed_hosts as ["pypi.org:8080"]
	t.allowed(inp) with data.settings.allowed_hosts as ["*.org"]
	t.denied_by(inp, "network", "host_not_allowed") with data.settings.setup_allowed_hosts as ["pypi.org"]
	no_port := object.union(inp, {"hosts": [{"host": "10.0.0.5", "via": "dev-tcp"}]})
	t.allowed(no_port) with data.settings.allowed_hosts as ["10.0.0.5:8080"]
	d := data.sandbox.decision with input as inp with data.settings.allowed_hosts as ["other.example"]
	contains(d.reasons[0].msg, "through the proxy")
}

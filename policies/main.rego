# Entry point: data.sandbox.decision = {"allow": bool, "reasons": [{"policy", "rule", "msg"}]}.
#
# Two input kinds: a connection (`"kind": "connect"`, from the egress proxy) is decided by
# network.rego's connect_deny alone; anything else is a tool call (inputs without `kind`).
#
# Default deny: a call is allowed only when the input is well-formed (a known tool, no
# derivation errors, the facts present), the tool is one the run's agent file grants
# (input.run.tools, when present), and no policy gives a reason to deny. scope.rego,
# secrets.rego, network.rego and claude_code.rego each contribute a `deny` array of
# reasons; reasons come in that order, without duplicates. A tool name the settings do not
# list (Claude Code has many: runner/policy/claude_code.py maps the ones it knows) is
# denied as not available in the sandbox. The engines validate the input against the
# PolicyInput model before evaluating, so facts have the documented types here.
package sandbox

import rego.v1

default decision := {"allow": false, "reasons": [{
	"policy": "input",
	"rule": "undecidable",
	"msg": "the policies could not decide this call",
}]}

decision := {"allow": count(r) == 0, "reasons": r} if {
	# a connection the egress proxy was asked for: only the network policy decides it
	input.kind == "connect"
	r := data.sandbox.network.connect_deny
} else := {"allow": false, "reasons": [reason(
	"unknown_tool",
	sprintf("tool %v is not available in the sandbox; the available tools are %s", [object.get(input, ["tool", "name"], null), concat(", ", data.settings.tools)]),
)]} if {
	not input.tool.name in data.settings.tools
} else := {"allow": false, "reasons": [{
	"policy": "agent",
	"rule": "tool_not_granted",
	"msg": sprintf("the agent file does not grant %v; this agent's tools are: %s", [input.tool.name, granted_tools]),
}]} if {
	# the run's agent file restricts the tools (run.tools absent: no agent file restricts them)
	is_array(input.run.tools)
	not input.tool.name in input.run.tools
} else := {"allow": false, "reasons": [reason(
	"malformed_input",
	sprintf("malformed tool call: %v; call %v with its documented arguments", [e, input.tool.name]),
) |
	some e in input.errors
]} if {
	count(input.errors) > 0
} else := {"allow": false, "reasons": [reason(
	"malformed_input",
	"the tool call could not be analysed (its facts are missing); call the tool with its documented arguments",
)]} if {
	not is_array(input.paths)
} else := {"allow": false, "reasons": [reason(
	"malformed_input",
	"the command could not be analysed (its shell facts are missing); call Bash with a command",
)]} if {
	input.tool.name == "Bash"
	not is_boolean(input.shell.parsed)
} else := {"allow": false, "reasons": [reason(
	"malformed_input",
	"Read needs a file path; call it with a path such as backend/app.py",
)]} if {
	# file tools must name their file: no such fact means derivation did not understand the call
	input.tool.name == "Read"
	count([p | some p in input.paths; p.op == "read"]) == 0
} else := {"allow": false, "reasons": [reason(
	"malformed_input",
	sprintf("%v needs a file path; call it with a path such as backend/app.py", [input.tool.name]),
)]} if {
	input.tool.name in ["Write", "Edit"]
	count([p | some p in input.paths; p.op == "write"]) == 0
} else := {"allow": count(all) == 0, "reasons": reasons} if {
	all := array.concat(
		array.concat(data.sandbox.scope.deny, data.sandbox.secrets.deny),
		array.concat(data.sandbox.network.deny, data.sandbox.claude_code.deny),
	)
	reasons := [r | some i, r in all; not r in array.slice(all, 0, i)] # in order, once each
}

reason(rule, msg) := {"policy": "input", "rule": rule, "msg": msg}

granted_tools := concat(", ", input.run.tools) if count(input.run.tools) > 0

else := "none (it may only answer in text)"

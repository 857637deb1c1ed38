package sandbox.main_test

import rego.v1

import data.sandbox.testlib as t

test_allows_a_well_formed_call if {
	t.allowed(t.write("backend/app.py"))
	t.allowed(t.read("README.md"))
}

test_unknown_tool if {
	t.denied_by(t.call("Execute", []), "input", "unknown_tool")
	t.denied_by({"paths": []}, "input", "unknown_tool")
	t.allowed(t.call("LS", [t.fact(".", "read")]))
}

agent_with(inp, tools) := object.union(inp, {"run": object.union(inp.run, {"tools": tools})})

test_tool_not_granted_by_the_agent_file if {
	t.denied_by(agent_with(t.write("backend/app.py"), ["Read", "Grep"]), "agent", "tool_not_granted")
	t.denied_by(agent_with(t.bash([["ls"]], []), ["Read", "Write", "Edit"]), "agent", "tool_not_granted")
	t.denied_by(agent_with(t.read("README.md"), []), "agent", "tool_not_granted")
	t.reasons_complete(agent_with(t.write("backend/app.py"), ["Read"]))
	t.reasons_complete(agent_with(t.read("README.md"), []))
}

test_tool_granted_by_the_agent_file if {
	t.allowed(agent_with(t.write("backend/app.py"), ["Read", "Write"]))
	t.allowed(agent_with(t.bash([["ls"]], []), ["Bash"]))
	t.allowed(t.write("backend/app.py")) # no run.tools: no agent file restricts the tools
}

test_not_granted_says_what_is_granted if {
	d := data.sandbox.decision with input as agent_with(t.write("backend/app.py"), ["Read", "Grep"])
	count(d.reasons) == 1
	contains(d.reasons[0].msg, "Write")
	contains(d.reasons[0].msg, "Read, Grep")
	e := data.sandbox.decision with input as agent_with(t.read("README.md"), [])
	contains(e.reasons[0].msg, "none")
}

test_granted_tool_still_meets_the_policies if {
	# granting a tool does not lift the other policies
	t.denied_by(agent_with(t.write("frontend/app.js"), ["Write"]), "scope", "write_outside_writable")
	t.denied_by(agent_with(t.call("Execute", []), ["Execute"]), "input", "unknown_tool")
}

test_derivation_errors if {
	inp := object.union(t.write("backend/app.py"), {"errors": ["Write: missing required field 'content'"]})
	t.denied_by(inp, "input", "malformed_input")
	t.allowed(object.union(inp, {"errors": []}))
}

test_missing_facts if {
	t.denied_by(object.remove(t.write("backend/app.py"), ["paths"]), "input", "malformed_input")
	t.denied_by(t.call("Bash", []), "input", "malformed_input")
	t.allowed(t.bash([["ls"]], []))
}

test_file_tool_without_its_path if {
	t.denied_by(t.call("Write", []), "input", "malformed_input")
	t.denied_by(t.call("Edit", [t.fact("backend/app.py", "read")]), "input", "malformed_input")
	t.denied_by(t.call("Read", []), "input", "malformed_input")
	t.allowed(t.call("Edit", [t.fact("backend/app.py", "write")]))
}

test_reasons_are_complete if {
	t.reasons_complete(t.write("frontend/app.js"))
	t.reasons_complete(t.read(".env"))
	t.reasons_complete(object.union(t.bash([["curl", "https://x.example"]], []), {"hosts": [{"host": "x.example", "port": 443, "via": "curl-argument"}]}))
	t.reasons_complete(t.call("Nope", []))
}

test_deny_says_what_would_be_allowed if {
	d := data.sandbox.decision with input as t.write("frontend/app.js")
	contains(d.reasons[0].msg, "backend/")
	contains(d.reasons[0].msg, "issues.md")
}

test_reasons_without_duplicates if {
	inp := t.call("Read", [t.fact(".env", "read"), t.fact(".env", "read")])
	d := data.sandbox.decision with input as inp
	count(d.reasons) == 1
}

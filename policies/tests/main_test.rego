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

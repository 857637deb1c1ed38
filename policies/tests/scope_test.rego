package sandbox.scope_test

import rego.v1

import data.sandbox.testlib as t

# --- write_outside_writable ------------------------------------------------------------

test_write_under_backend if {
	t.allowed(t.write("backend/app.py"))
	t.allowed(t.write("backend/app/models/todo.py"))
	t.allowed(t.write("backend"))
	t.denied_by(t.write("frontend/app.js"), "scope", "write_outside_writable")
	t.denied_by(t.write("backendx/app.py"), "scope", "write_outside_writable")
	t.denied_by(t.write("README.md"), "scope", "write_outside_writable")
	t.denied_by(t.write("."), "scope", "write_outside_writable")
}

test_write_issues_md_only_at_the_root if {
	t.allowed(t.write("issues.md"))
	t.denied_by(t.write("Issues.md"), "scope", "write_outside_writable")
	t.denied_by(t.write("ISSUES.MD"), "scope", "write_outside_writable")
	t.denied_by(t.write("issues.md "), "scope", "write_outside_writable")
	t.denied_by(t.write("іssues.md"), "scope", "write_outside_writable") # Cyrillic і
	t.denied_by(t.write("issues.md.bak"), "scope", "write_outside_writable")
	t.denied_by(t.write("issues.md/x"), "scope", "write_outside_writable")
	t.denied_by(t.write("docs/issues.md"), "scope", "write_outside_writable")
}

test_write_path_with_dotdot_is_not_under_backend if {
	t.denied_by(t.write("backend/../frontend/app.js"), "scope", "write_outside_writable")
	t.allowed(t.write("backend/a..b.py"))
}

test_writable_comes_from_data if {
	t.allowed(t.write("frontend/app.js")) with data.settings.writable as ["frontend/"]
	t.denied_by(t.write("backend/app.py"), "scope", "write_outside_writable") with data.settings.writable as ["frontend/"]
}

# --- write_protected_dir ----------------------------------------------------------------

test_no_writes_into_git if {
	t.denied_by(t.write(".git/hooks/pre-commit"), "scope", "write_protected_dir")
	t.denied_by(t.write(".git/config"), "scope", "write_protected_dir")
	t.denied_by(t.write("backend/.git/hooks/post-checkout"), "scope", "write_protected_dir")
	t.denied_by(t.write("backend/.GIT/config"), "scope", "write_protected_dir")
	t.denied_by(t.write_fact(t.linked("backend/hooks", ".git/hooks", "write")), "scope", "write_protected_dir")
	t.allowed(t.write("backend/.gitignore"))
	t.allowed(t.write("backend/git/notes.py"))
	t.allowed(t.read(".git/config"))
}

# --- write_outside_workspace ------------------------------------------------------------

test_no_writes_outside_the_workspace if {
	t.denied_by(t.write("/etc/passwd"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/workspace2/x"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/tmpx/x"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/tmp/../etc/x"), "scope", "write_outside_workspace")
	t.denied_by(t.write_fact(object.union(t.fact("backend/x", "write"), {"inside_workspace": false})), "scope", "write_outside_workspace")
	t.allowed(t.write("/dev/null"))
	t.allowed(t.bash([["pytest"]], [t.fact("/dev/stderr", "write")]))
}

# Scratch space: /tmp and the agent's home are tmpfs in the container (outside_write_allowed),
# except the files that make shells and tools run commands later (outside_write_denied).
test_writes_to_scratch_space if {
	t.allowed(t.write("/tmp/pytest.log"))
	t.allowed(t.write("/tmp"))
	t.allowed(t.write("/home/agent/notes.txt"))
	t.allowed(t.write("/home/agent/.cache/pip/x"))
	t.denied_by(t.write("/home/agent/.bashrc"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/home/agent/.gitconfig"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/home/agent/.local/bin/ls"), "scope", "write_outside_workspace")
	t.denied_by(t.write("/home/agent/.config/git/config"), "scope", "write_outside_workspace")
	# a link into the workspace: the target decides
	t.denied_by(t.write_fact(t.linked("/tmp/fe/app.js", "frontend/app.js", "write")), "scope", "write_outside_workspace")
	t.denied_by(t.write("/tmp/x"), "scope", "write_outside_workspace") with data.settings.outside_write_allowed as []
	t.allowed(t.write("/srv/x")) with data.settings.outside_write_allowed as ["/srv/"]
}

test_startup_file_message_says_what_is_allowed if {
	d := data.sandbox.decision with input as t.write("/home/agent/.bashrc")
	contains(d.reasons[0].msg, "run what it says unseen")
	contains(d.reasons[0].msg, "/tmp/")
}

# A tool's own default output is explained by derivation's `note`.
test_write_notes_are_shown if {
	f := object.union(t.fact("htmlcov", "write"), {"implicit": true, "note": "coverage html writes htmlcov in the working directory"})
	d := data.sandbox.decision with input as t.bash([["coverage", "html"]], [f])
	contains(d.reasons[0].msg, "(coverage html writes htmlcov in the working directory)")
	t.denied_by(t.bash([["coverage", "html"]], [f]), "scope", "write_outside_writable")
	t.allowed(t.bash([["coverage", "html"]], [object.union(f, {"path": "backend/htmlcov", "real": "backend/htmlcov", "raw": "htmlcov"})]))
}

# --- write_symlink_escape ---------------------------------------------------------------

test_no_writes_through_symlinks_that_leave if {
	t.denied_by(t.write_fact(t.linked("backend/link", "frontend/app.js", "write")), "scope", "write_symlink_escape")
	t.denied_by(t.write_fact(t.linked("backend/link", "/etc/cron.d/x", "write")), "scope", "write_symlink_escape")
	t.denied_by(t.write_fact(t.linked("backend/dir/x", "/home/agent/.bashrc", "write")), "scope", "write_symlink_escape")
	t.allowed(t.write_fact(t.linked("backend/link", "backend/real.py", "write")))
	t.allowed(t.write_fact(t.linked("issues.md", "backend/issues.md", "write")))
}

# --- write_hardlink ----------------------------------------------------------------------

test_no_writes_to_hard_linked_files if {
	t.denied_by(t.write_fact(object.union(t.fact("backend/x.py", "write"), {"hardlinks": 2})), "scope", "write_hardlink")
	t.allowed(t.write_fact(object.union(t.fact("backend/x.py", "write"), {"hardlinks": 1})))
	t.allowed(t.call("Read", [object.union(t.fact("backend/x.py", "read"), {"hardlinks": 3})]))
}

# --- dynamic_write_target ----------------------------------------------------------------

test_dynamic_write_targets if {
	t.denied_by(t.write_fact(object.union(t.fact("backend/$NAME", "write"), {"dynamic": true})), "scope", "dynamic_write_target")
	t.allowed(t.write_fact(object.union(t.fact("backend/name.py", "write"), {"dynamic": false})))
	t.allowed(t.call("Read", [object.union(t.fact("backend/*.py", "read"), {"dynamic": true})]))
}

# A pattern whose every match derivation listed (`bounded`) is as good as its matches.
test_bounded_patterns if {
	glob := object.union(t.fact("backend/*.py", "write"), {"dynamic": true, "bounded": true})
	match := object.union(t.fact("backend/app.py", "write"), {"raw": "backend/*.py", "dynamic": true, "bounded": true})
	t.allowed(t.bash([["sed", "-i", "s/a/b/", "backend/*.py"]], [glob, match]))
	outside := object.union(t.fact("frontend/app.js", "write"), {"raw": "*/app.js", "dynamic": true, "bounded": true})
	t.denied_by(t.bash([["sed", "-i", "s/a/b/", "*/app.js"]], [outside]), "scope", "write_outside_writable")
	through := object.union(t.linked("backend/fe/app.js", "frontend/app.js", "write"), {"dynamic": true, "bounded": true})
	t.denied_by(t.bash([["sed", "-i", "s/a/b/", "backend/*/app.js"]], [through]), "scope", "write_symlink_escape")
	t.denied_by(t.bash([["rm", "$X"]], [object.union(glob, {"bounded": false})]), "scope", "dynamic_write_target")
}

# A write anywhere under a directory (`recursive`): the directory must be writable and
# nothing listed under it (`contents`, with where its symlinks lead) may be elsewhere.
test_recursive_writes if {
	under := object.union(t.fact("backend", "write"), {"raw": "backend/{}", "recursive": true, "under": true, "program": "rm"})
	t.allowed(t.bash([["find", "backend", "-delete"]], [under]))
	listed := object.union(under, {"program": "sed", "contents": ["backend/app.py", "backend/x/y.py"]})
	t.allowed(t.bash([["find", "backend", "-exec", "sed", "-i", "s/a/b/", "{}", "+"]], [listed]))
	escapes := object.union(listed, {"contents": ["backend/app.py", "backend/fe", "frontend"]})
	t.denied_by(t.bash([["find", "backend", "-exec", "sed", "-i", "s/a/b/", "{}", "+"]], [escapes]), "scope", "write_symlink_escape")
	git := object.union(listed, {"contents": ["backend/sub/.git/hooks/pre-commit"]})
	t.denied_by(t.bash([["find", "backend", "-exec", "cp", "x", "{}", ";"]], [git]), "scope", "write_symlink_escape")
	root := object.union(under, {"path": ".", "real": ".", "raw": "./{}"})
	t.denied_by(t.bash([["find", ".", "-delete"]], [root]), "scope", "write_outside_writable")
}

test_recursive_write_too_large_to_check if {
	big := object.union(t.fact("backend", "write"), {"recursive": true, "contents": ["backend/a.py"], "contents_truncated": true, "program": "sed"})
	t.denied_by(t.bash([["sed"]], [big]), "scope", "write_unchecked")
	t.allowed(t.bash([["sed"]], [object.union(big, {"contents_truncated": false})]))
}

# Through a link an earlier program of the same command may have made (`new_link`).
test_through_a_link_made_by_this_command if {
	extracted := object.union(t.fact("backend/x/app.py", "write"), {"new_link": "tar"})
	t.denied_by(t.bash([["tar", "xf", "a.tar", "-C", "backend"], ["sed", "-i", "s/a/b/", "backend/x/app.py"]], [extracted]), "scope", "through_new_link")
	read := object.union(t.fact("backend/x/notes.txt", "read"), {"new_link": "unzip"})
	t.denied_by(t.bash([["cat", "backend/x/notes.txt"]], [read]), "scope", "through_new_link")
	t.allowed(t.bash([["cat", "backend/x/notes.txt"]], [t.fact("backend/x/notes.txt", "read")]))
	d := data.sandbox.decision with input as t.bash([["cat"]], [read])
	contains(d.reasons[0].msg, "unzip earlier in this command")
}

# --- read_outside_workspace --------------------------------------------------------------

test_reads_outside_the_workspace if {
	# the container's own filesystem holds nothing of the host: readable ...
	t.allowed(t.read("/usr/lib/python3.11/json/__init__.py"))
	t.allowed(t.read("/opt/venv/lib/python3.11/site-packages/fastapi/routing.py"))
	t.allowed(t.read("/usr"))
	t.allowed(t.read("/"))
	t.allowed(t.read("/etc/os-release"))
	t.allowed(t.read("/etc/passwd"))
	t.allowed(t.read("/home/agent/.cache"))
	t.allowed(t.read("/tmp/pytest-of-agent/x"))
	t.allowed(t.call("Read", [t.linked("backend/py", "/usr/lib/python3.11", "read")]))
	# ... except the runner's directory and system credentials
	t.denied_by(t.read("/run/sandbox-runner/agent.json"), "scope", "read_outside_workspace")
	t.denied_by(t.read("/run/sandbox-runner"), "scope", "read_outside_workspace")
	t.denied_by(t.read("/var/run/sandbox-runner/gateway.sock"), "scope", "read_outside_workspace")
	t.denied_by(t.read("/etc/shadow"), "scope", "read_outside_workspace")
	t.denied_by(t.read("/root/.bashrc"), "scope", "read_outside_workspace")
	t.denied_by(t.read("/usr/../etc/shadow"), "scope", "read_outside_workspace")
	t.denied_by(t.call("Read", [t.linked("backend/x", "/etc/shadow", "read")]), "scope", "read_outside_workspace")
	t.denied_by(t.call("Read", [t.linked("backend/x", "/run/sandbox-runner/agent.json", "read")]), "scope", "read_outside_workspace")
	d := data.sandbox.decision with input as t.read("/run/sandbox-runner/agent.json")
	contains(d.reasons[0].msg, "/run/sandbox-runner/ is off limits")
	contains(d.reasons[0].msg, "reads outside the workspace are allowed except")
}

test_outside_read_lists_come_from_data if {
	old := ["/usr/", "/tmp/"]
	t.denied_by(t.read("/etc/passwd"), "scope", "read_outside_workspace") with data.settings.outside_read_allowed as old
	t.allowed(t.read("/usr/lib/x.py")) with data.settings.outside_read_allowed as old
	t.allowed(t.read("/run/sandbox-runner/agent.json")) with data.settings.outside_read_denied as []
	t.denied_by(t.read("/opt/secret"), "scope", "read_outside_workspace") with data.settings.outside_read_denied as ["/opt/"]
}

recursive_fact(path, program) := object.union(t.fact(path, "read"), {"via": "argument", "program": program, "recursive": true})

test_recursive_reads_of_directories_holding_special_files if {
	t.denied_by(t.bash([["grep", "-r", "KEY", "/"]], [recursive_fact("/", "grep")]), "scope", "recursive_read_special")
	t.denied_by(t.bash([["tar", "c", "/run"]], [recursive_fact("/run", "tar")]), "scope", "recursive_read_special")
	t.denied_by(t.bash([["grep", "-r", "x", "/var"]], [recursive_fact("/var", "grep")]), "scope", "recursive_read_special")
	t.denied_by(t.call("Grep", [t.fact("/", "read")]), "scope", "recursive_read_special")
	d := data.sandbox.decision with input as t.bash([["grep", "-r", "KEY", "/"]], [recursive_fact("/", "grep")])
	contains(d.reasons[0].msg, "/proc/")
	contains(d.reasons[0].msg, "name a narrower directory")
	# a directory holding none of them
	t.allowed(t.bash([["grep", "-r", "def", "/opt/venv"]], [recursive_fact("/opt/venv", "grep")]))
	t.allowed(t.call("Grep", [t.fact("/opt/venv/lib/python3.11/site-packages/fastapi", "read")]))
	t.allowed(t.bash([["grep", "-r", "x", "/usr/lib"]], [recursive_fact("/usr/lib", "grep")]))
	# links followed out of the workspace (grep -R over backend/root -> /)
	following := object.union(recursive_fact("backend", "grep"), {"contents": ["backend/app.py", "/"]})
	t.denied_by(t.bash([["grep", "-R", "x", "backend"]], [following]), "scope", "recursive_read_special")
	to_usr := object.union(recursive_fact("backend", "grep"), {"contents": ["backend/app.py", "/usr/lib/python3.11"]})
	t.allowed(t.bash([["grep", "-R", "x", "backend"]], [to_usr]))
	t.allowed(t.bash([["grep", "-r", "x", "backend"]], [object.union(recursive_fact("backend", "grep"), {"contents": ["backend/app.py"]})]))
	# listing names is not reading contents
	t.allowed(t.bash([["find", "/", "-name", "x"]], [t.fact("/", "read")]))
	t.allowed(t.call("LS", [t.fact("/", "read")]))
}

test_reads_anywhere_in_the_workspace if {
	t.allowed(t.read("frontend/app.js"))
	t.allowed(t.read("architecture/backend.md"))
	t.allowed(t.read("."))
	t.allowed(t.read(".git/HEAD"))
}

# --- exec_outside_workspace --------------------------------------------------------------

test_exec_outside_the_workspace if {
	t.denied_by(t.bash([["/tmp/evil"]], [t.fact("/tmp/evil", "exec")]), "scope", "exec_outside_workspace")
	t.denied_by(t.bash([["/home/agent/x"]], [t.fact("/home/agent/x", "exec")]), "scope", "exec_outside_workspace")
	t.allowed(t.bash([["/usr/bin/python3"]], [t.fact("/usr/bin/python3", "exec")]))
	t.allowed(t.bash([["run.sh"]], [t.fact("backend/run.sh", "exec")]))
}

# --- special_file ------------------------------------------------------------------------

test_kernel_special_files if {
	t.denied_by(t.read("/proc/self/root/etc/shadow"), "scope", "special_file")
	t.denied_by(t.read("/proc/1/cmdline"), "scope", "special_file")
	t.denied_by(t.read("/proc"), "scope", "special_file")
	t.denied_by(t.read("/sys/kernel/notes"), "scope", "special_file")
	t.denied_by(t.bash([["cat"]], [t.fact("/dev/tcp/evil.example/80", "write")]), "scope", "special_file")
	t.denied_by(t.write("/dev/sda"), "scope", "special_file")
	t.denied_by(t.call("Read", [t.linked("backend/env", "/proc/self/environ", "read")]), "scope", "special_file")
	t.allowed(t.write("/dev/null"))
	t.allowed(t.read("/dev/urandom"))
	t.allowed(t.read("/proc/cpuinfo"))
}

# --- git configuration -------------------------------------------------------------------

test_git_config_write if {
	t.denied_by(t.bash([["git", "config", "core.hooksPath", "/tmp/h"]], []), "scope", "git_config_write")
	t.denied_by(t.bash([["git", "-C", "backend", "config", "--global", "alias.x", "!sh"]], []), "scope", "git_config_write")
	t.allowed(t.bash([["git", "config", "--get", "user.name"]], []))
	t.allowed(t.bash([["git", "config", "--list"]], []))
	t.allowed(t.bash([["git", "commit", "-m", "config"]], []))
	t.allowed(t.bash([["git", "-C", "config", "status"]], []))
}

test_git_config_exec if {
	t.denied_by(t.bash([["git", "-c", "core.fsmonitor=touch /tmp/x", "status"]], []), "scope", "git_config_exec")
	t.denied_by(t.bash([["git", "-c", "core.hooksPath=/tmp", "commit"]], []), "scope", "git_config_exec")
	t.denied_by(t.bash([["/usr/bin/git", "-c", "alias.st=!sh", "st"]], []), "scope", "git_config_exec")
	t.denied_by(t.bash([["git", "--config-env=core.pager=PAGER", "log"]], []), "scope", "git_config_exec")
	t.allowed(t.bash([["git", "-c", "user.name=x", "commit", "-m", "m"]], []))
	t.allowed(t.bash([["git", "log", "-c"]], []))
}

# --- malformed_fact ----------------------------------------------------------------------

test_unknown_operation if {
	t.denied_by(t.bash([["rm", "backend/app.py"]], [t.fact("backend/app.py", "delete")]), "scope", "malformed_fact")
	t.allowed(t.bash([["rm", "backend/app.py"]], [t.fact("backend/app.py", "write")]))
}

# --- replace_writable_file ---------------------------------------------------------------

ln_fact(path, op) := object.union(t.fact(path, op), {"via": "argument", "program": "ln"})

test_writable_file_is_not_replaced_by_a_link if {
	t.denied_by(
		t.bash([["ln", "-sf", "frontend/app.js", "issues.md"]], [ln_fact("issues.md", "write"), ln_fact("frontend/app.js", "read")]),
		"scope", "replace_writable_file",
	)
	rm := object.union(t.fact("issues.md", "write"), {"via": "argument", "program": "rm"})
	t.denied_by(t.bash([["rm", "issues.md"]], [rm]), "scope", "replace_writable_file")
	# writing its content is fine, and links inside backend/ are too
	tee := object.union(t.fact("issues.md", "write"), {"via": "argument", "program": "tee"})
	t.allowed(t.bash([["tee", "issues.md"]], [tee]))
	t.allowed(t.bash([["ln", "-s", "app.py", "backend/main.py"]], [ln_fact("backend/main.py", "write"), ln_fact("backend/app.py", "read")]))
}

dyn_read(path) := object.union(t.fact(path, "read"), {"via": "argument", "program": "cat", "dynamic": true})

test_dynamic_reads_outside_the_workspace if {
	# an expansion can climb with ..: never bounded by the text before it
	t.denied_by(t.bash([["cat", "/$(echo proc)/self/environ"]], [dyn_read("/$(echo proc)/self/environ")]), "scope", "dynamic_read_outside")
	t.denied_by(t.bash([["cat", "/opt/$X/y"]], [dyn_read("/opt/$X/y")]), "scope", "dynamic_read_outside")
	t.denied_by(t.bash([["cat", "/usr/`x`"]], [dyn_read("/usr/`x`")]), "scope", "dynamic_read_outside")
	t.denied_by(t.bash([["cat", "/x/{}"]], [dyn_read("/x/{}")]), "scope", "dynamic_read_outside")
	# a pattern is bounded by its directory
	t.denied_by(t.bash([["cat", "/*/self/environ"]], [dyn_read("/*/self/environ")]), "scope", "dynamic_read_outside")
	t.denied_by(t.bash([["cat", "/run/*/agent.json"]], [dyn_read("/run/*/agent.json")]), "scope", "dynamic_read_outside")
	t.allowed(t.bash([["cat", "/opt/venv/lib/*/x.py"]], [dyn_read("/opt/venv/lib/*/x.py")]))
	t.allowed(t.bash([["ls", "/usr/share/doc/*"]], [dyn_read("/usr/share/doc/*")]))
	# the Glob tool lists names only
	t.allowed(t.call("Glob", [object.union(t.fact("/", "read"), {"dynamic": true})]))
	# inside the workspace this rule does not apply
	t.allowed(t.bash([["cat", "backend/*.py"]], [dyn_read("backend/*.py")]))
}

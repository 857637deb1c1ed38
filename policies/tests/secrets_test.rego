package sandbox.secrets_test

import rego.v1

import data.sandbox.testlib as t

# --- secret_file -------------------------------------------------------------------------

test_secret_files_by_any_tool if {
	t.denied_by(t.read(".env"), "secrets", "secret_file")
	t.denied_by(t.read("backend/.env.local"), "secrets", "secret_file")
	t.denied_by(t.read(".ENV"), "secrets", "secret_file")
	t.denied_by(t.read("deploy/server.PEM"), "secrets", "secret_file")
	t.denied_by(t.read("keys/id_ed25519"), "secrets", "secret_file")
	t.denied_by(t.read(".ssh/known_hosts"), "secrets", "secret_file")
	t.denied_by(t.read(".aws"), "secrets", "secret_file")
	t.denied_by(t.read("home/.kube/config"), "secrets", "secret_file")
	t.denied_by(t.read(".config/gcloud/credentials.db"), "secrets", "secret_file")
	t.denied_by(t.read("/home/agent/.netrc"), "secrets", "secret_file")
	t.denied_by(t.call("Grep", [t.fact(".npmrc", "read")]), "secrets", "secret_file")
	t.denied_by(t.write("backend/.env"), "secrets", "secret_file")
	t.denied_by(t.bash([["cat", ".env"]], [t.fact(".env", "read")]), "secrets", "secret_file")
	t.allowed(t.read("backend/app.py"))
	t.allowed(t.read("backend/envelope.py"))
	t.allowed(t.read("backend/settings/keyring.py"))
	t.allowed(t.read(".envoy/config.yaml"))
}

test_secret_file_through_a_symlink if {
	t.denied_by(t.call("Read", [t.linked("backend/settings.txt", ".env", "read")]), "secrets", "secret_file")
	t.allowed(t.call("Read", [t.linked("backend/settings.txt", "backend/real.txt", "read")]))
}

test_secret_file_exceptions if {
	t.allowed(t.read(".env.example"))
	t.allowed(t.read("backend/.env.sample"))
	t.allowed(t.write("backend/.env.example"))
	t.denied_by(t.read(".ssh/.env.example"), "secrets", "secret_file")
	t.denied_by(t.read(".env.production"), "secrets", "secret_file")
}

test_secret_patterns_come_from_data if {
	t.allowed(t.read(".env")) with data.settings.secret_file_patterns as ["*.key"]
	t.denied_by(t.read("backend/notes.txt"), "secrets", "secret_file") with data.settings.secret_file_patterns as ["notes.*"]
	t.denied_by(t.read("a/b/c/d.txt"), "secrets", "secret_file") with data.settings.secret_file_patterns as ["b/c/"]
	t.allowed(t.read("b/c/d.txt")) with data.settings.secret_file_patterns as ["/b/c/"]
	t.denied_by(t.read("/b/c/d.txt"), "secrets", "secret_file") with data.settings.secret_file_patterns as ["/b/c/"]
	t.denied_by(t.read("x/a1.txt"), "secrets", "secret_file") with data.settings.secret_file_patterns as ["a[0-9].txt"]
	t.allowed(t.read("x/ab.txt")) with data.settings.secret_file_patterns as ["a[0-9].txt"]
	t.allowed(t.read(".env")) with data.settings.secret_file_exceptions as [".env"]
}

# --- directories read recursively --------------------------------------------------------

# A directory fact of a recursive read (grep -r, rg, cp -r ...), with what derivation
# found under it.
recursive(dir, program, contents) := object.union(t.fact(dir, "read"), {
	"via": "argument", "program": program, "recursive": true, "contents": contents,
})

test_recursive_read_of_a_directory_holding_a_secret_file if {
	root := recursive(".", "grep", ["backend/app.py", ".env", "deploy/server.pem", "issues.md"])
	t.denied_by(t.bash([["grep", "-r", "KEY", "."]], [root]), "secrets", "secret_file")
	d := data.sandbox.decision with input as t.bash([["grep", "-r", "KEY", "."]], [root])
	contains(d.reasons[0].msg, ".env, deploy/server.pem")
	contains(d.reasons[0].msg, "narrower directory")
	t.denied_by(t.bash([["cp", "-r", "config", "backend/"]], [recursive("config", "cp", ["config/a.yaml", "config/.aws/credentials"])]), "secrets", "secret_file")
	t.denied_by(t.bash([["rg", "x"]], [recursive(".", "rg", ["backend/link", "/home/agent/.ssh/id_rsa"])]), "secrets", "secret_file")
	t.denied_by(t.bash([["grep", "-r", "x", "."]], [recursive(".", "grep", ["docs/readme.md", "x/.ENV"])]), "secrets", "secret_file")

	# exceptions, look-alikes and non-recursive facts with contents-like names stay allowed
	t.allowed(t.bash([["grep", "-r", "TODO", "backend"]], [recursive("backend", "grep", ["backend/app.py", "backend/.env.example", "backend/envelope.py", "backend/keyring.py"])]))
	t.allowed(t.bash([["grep", "-r", "TODO", "backend"]], [recursive("backend", "grep", [])]))
	t.allowed(t.bash([["ls", "."]], [object.union(t.fact(".", "read"), {"contents": [".env"]})]))
}

test_recursive_read_too_large_to_check if {
	big := object.union(recursive(".", "grep", ["backend/app.py"]), {"contents_truncated": true})
	t.denied_by(t.bash([["grep", "-r", "x", "."]], [big]), "secrets", "recursive_read_unchecked")
	t.allowed(t.bash([["grep", "-r", "x", "backend"]], [recursive("backend", "grep", ["backend/app.py"])]))
	t.allowed(t.bash([["grep", "-r", "x", "backend"]], [object.union(recursive("backend", "grep", ["backend/app.py"]), {"contents_truncated": false})]))
}

# --- secret_argument ---------------------------------------------------------------------

test_secret_file_named_in_an_argument if {
	t.denied_by(t.bash([["git", "show", "HEAD:.env"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["docker", "run", "--env-file=.env", "x"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["xxd", "deploy/key.pem"]], []), "secrets", "secret_argument")
	t.allowed(t.bash([["echo", "load settings from the environment"]], []))
	t.allowed(t.bash([["git", "show", "HEAD:backend/app.py"]], []))
	t.allowed(t.bash([["cp", ".env.example", "backend/.env.example"]], []))
}

# A command whose argv indexes `text` the program takes as text (ShellCommand.text_args).
text_cmd(argv, text) := object.union(t.bash([argv], []), {"shell": {
	"parsed": true, "opaque": [], "commands": [{"program": argv[0], "argv": argv, "text_args": text}],
}})

test_secret_name_as_text_is_not_a_read if {
	t.allowed(text_cmd(["echo", ".env"], [1]))
	t.allowed(text_cmd(["grep", "-qx", ".env", ".gitignore"], [2]))
	t.allowed(text_cmd(["git", "check-ignore", "-v", ".env"], [3]))
	t.allowed(text_cmd(["grep", "-rn", "id_rsa\\|\\.pem", "backend"], [2]))
	# only the indexes listed are text
	t.denied_by(text_cmd(["grep", "-qx", ".env", ".env"], [2]), "secrets", "secret_argument")
	t.denied_by(text_cmd(["echo", ".env"], []), "secrets", "secret_argument")
	t.denied_by(text_cmd(["echo", ".env"], null), "secrets", "secret_argument")
}

test_secret_name_from_a_substitution if {
	t.denied_by(t.bash([["cat", "$(echo .env)"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["cat", "`echo deploy/server.key`"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["tar", "czf", "x.tgz", "$(ls -d .env .git)"]], []), "secrets", "secret_argument")
	t.allowed(t.bash([["cat", "$(echo backend/app.py)"]], []))
	# words of text outside a substitution are not split: a message mentioning .env is fine
	t.allowed(t.bash([["git", "commit", "-m", "ignore .env files"]], []))
}

# --- process_environment -----------------------------------------------------------------

test_process_environment_files if {
	t.denied_by(t.read("/proc/self/environ"), "secrets", "process_environment")
	t.denied_by(t.read("/proc/1/environ"), "secrets", "process_environment")
	t.denied_by(t.read("/proc/self/task/7/environ"), "secrets", "process_environment")
	t.denied_by(t.read("/proc/42/mem"), "secrets", "process_environment")
	t.denied_by(t.call("Read", [t.linked("backend/e", "/proc/1/environ", "read")]), "secrets", "process_environment")
	t.allowed(t.read("/proc/cpuinfo"))
}

test_commands_that_print_the_environment if {
	t.denied_by(t.bash([["env"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["/usr/bin/env", "-u", "PATH"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["printenv"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["printenv", "ANTHROPIC_API_KEY"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["printenv", "PATH", "DB_PASSWORD"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["printenv", "-0"]], []), "secrets", "process_environment")
	# one named variable, as echo $PATH prints it
	t.allowed(t.bash([["printenv", "PATH"]], []))
	t.allowed(t.bash([["printenv", "HOME", "LANG"]], []))
	t.denied_by(t.bash([["export", "-p"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["export"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["declare", "-x"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["typeset", "-p"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["set"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["ps", "eww"]], []), "secrets", "process_environment")
	t.denied_by(t.bash([["ps", "auxe"]], []), "secrets", "process_environment")
	t.allowed(t.bash([["env", "PYTHONPATH=backend", "python", "-m", "pytest"]], []))
	t.allowed(t.bash([["env", "-u", "HOME", "pytest"]], []))
	t.allowed(t.bash([["export", "PYTHONPATH=backend"]], []))
	t.allowed(t.bash([["declare", "-i", "n=1"]], []))
	t.allowed(t.bash([["declare", "-f"]], []))
	t.allowed(t.bash([["set", "-euo", "pipefail"]], []))
	t.allowed(t.bash([["ps", "aux"]], []))
	t.allowed(t.bash([["ps", "-ef"]], []))
}

# A program that prints the environment beside a call that names a secret: every reason,
# not only the environment's (deny's middle branch is for calls that name nothing secret).
test_environment_programs_beside_secrets if {
	both := t.bash([["env"], ["cat", ".env"]], [t.fact(".env", "read")])
	t.denied_by(both, "secrets", "process_environment")
	t.denied_by(both, "secrets", "secret_file")
	arg := t.bash([["env", "--env-file=.env", "python"]], [])
	t.denied_by(arg, "secrets", "secret_argument")
	dumped := t.bash([["printenv"], ["git", "show", "HEAD:.env"]], [])
	t.denied_by(dumped, "secrets", "process_environment")
	t.denied_by(dumped, "secrets", "secret_argument")
	found := object.union(t.bash([["env"]], []), {"secrets": [{"rule": "aws-access-key", "where": "input.command"}]})
	t.denied_by(found, "secrets", "process_environment")
	t.denied_by(found, "secrets", "hardcoded_secret")
	t.allowed(t.bash([["env", "PYTHONPATH=backend", "python"], ["cat", "backend/app.py"]], [t.fact("backend/app.py", "read")]))
	# the cheap checks find what the exact ones would (found by a review): Unicode case
	# folding (the long s), and ":" and "=" read as "/" in an argument
	t.denied_by(t.bash([["env", "cat", ".ſsh/config"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["cat", ".ſsh/config"]], []), "secrets", "secret_argument")
	t.denied_by(t.call("Read", [t.fact(".ſsh/id_rsa", "read")]), "secrets", "secret_file")
	t.denied_by(t.bash([["env", "ls", ".config:gcloud"]], []), "secrets", "secret_argument")
	t.denied_by(t.bash([["env", "cp", "x=.config=gcloud", "y"]], []), "secrets", "secret_argument")
}

# --- hardcoded_secret --------------------------------------------------------------------

test_hard_coded_secrets if {
	with_finding := object.union(t.write("backend/config.py"), {"secrets": [{"rule": "aws-access-key", "where": "input.content"}]})
	t.denied_by(with_finding, "secrets", "hardcoded_secret")
	d := data.sandbox.decision with input as with_finding
	contains(d.reasons[0].msg, "aws-access-key")
	contains(d.reasons[0].msg, "environment variable")
	not contains(d.reasons[0].msg, "AKIA")
	t.allowed(object.union(t.write("backend/config.py"), {"secrets": []}))
}

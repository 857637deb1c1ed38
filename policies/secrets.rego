# Secrets: no secret file or process environment is read by any tool or command, and no
# hard-coded secret is written.
#
# - secret_file: a path fact (any tool; program arguments and redirects included) whose
#   path or real path matches secret_file_patterns (semantics in lib.rego); and a directory
#   read recursively (grep -r, rg, cp -r, tar c, git grep, find -exec ...: `recursive`)
#   whose `contents` (what derivation found under it) hold a secret file;
# - recursive_read_unchecked: a recursive read of a directory with more entries than
#   derivation walks (`contents_truncated`): its secret files cannot be ruled out;
# - secret_argument: a command argument naming a secret file where the shell analysis saw
#   no path (`git show HEAD:.env`, `--env-file=.env`, `cat $(echo .env)`); ":" and "="
#   separate like "/"; arguments the program takes as text (`echo .env`, `grep -x .env
#   .gitignore`, `git check-ignore .env`: ShellCommand.text_args) are names, not reads;
# - process_environment: /proc/*/environ and the like, and the commands that print the
#   environment (env without a command, printenv without names or of a credential-like
#   name (secret_variable_words), set, export -p, declare -x, ps e);
# - hardcoded_secret: detector findings (rule and location) in written content, edits and
#   commands.
package sandbox.secrets

import rego.v1

deny := [] if {
	# the common case: nothing in the call contains a literal part of a secret file
	# pattern or /proc, and no program that can print the environment runs
	count(input.secrets) == 0
	count([c |
		some c in input.shell.commands
		true in [c.program in environment_programs, contains(c.program, "/")]
	]) == 0
	not names_maybe_secret
} else := environment_deny if {
	# nothing names a secret file or /proc (so no path, recursive read or argument reason
	# can apply: all_deny would find none): only a program printing the environment can
	# be denied (env, printenv ... with nothing secret-looking in the call)
	count(input.secrets) == 0
	not names_maybe_secret
} else := all_deny(path_deny(input.paths))

# Does anything the call names (paths, targets, arguments as they are and as the argument
# check reads them, with ":" and "=" as "/", what a recursive read reaches) contain a
# literal part of a secret file pattern or /proc? One regular expression.
names_maybe_secret if literals_match(concat("\n", array.concat(
	array.concat([p.path | some p in input.paths], [p.real | some p in input.paths]),
	array.concat(
		[a | some c in input.shell.commands; some a in [concat("\n", c.argv), replace(replace(concat("\n", c.argv), "=", "/"), ":", "/")]],
		[t | some p in input.paths; p.recursive == true; t := recursive_text(p)],
	),
)))

# The literal parts (lowercase ASCII), matched as the exact checks' case-insensitive regexes
# match the patterns: Unicode's simple case folding also makes the long s an s and the
# Kelvin sign a k (lower() alone keeps the long s; a case-insensitive regex here is much
# slower in regorus).
literals_match(text) if regex.match(literals_regex, replace(replace(lower(text), "\u017f", "s"), "\u212a", "k"))

# The reasons of the commands that print the process environment.
environment_deny := [r |
	some c in input.shell.commands
	r := command_reason(data.sandbox.lib.basename(c.program), c.argv)
]

# Every reason, once the cheap check could not rule secrets out; ``paths`` (the path facts'
# reasons) is computed once: the argument check runs only when it is empty.
all_deny(paths) := array.concat(
	array.concat(array.concat(paths, recursive_deny(input.paths)), argument_deny(input, paths)),
	array.concat(environment_deny, [finding_reason(f) | some f in input.secrets]),
)

# Programs that print the process environment (with some arguments; see below).
environment_programs := {"env", "printenv", "set", "export", "declare", "typeset", "readonly", "ps"}

reason(rule, msg) := {"policy": "secrets", "rule": rule, "msg": msg}

advice := "secret files are masked in the sandbox and may not be read, written or copied by any tool; code should read credentials from environment variables (os.environ) and document them in a non-secret example such as .env.example"

# --- secret files and process memory -----------------------------------------------------

path_deny(paths) := [r |
	some p in paths
	maybe_secret_fact(p)
	r := path_reason(p)
]

# A fact whose path and target contain no literal part of a secret file pattern and no
# "/proc" names no secret file and no process memory: `deny`'s cheap first check, per fact
# (one regular expression instead of the exact checks). A missing path or target is checked.
maybe_secret_fact(p) if literals_match(concat("\n", [
	object.get(p, "path", "/proc"),
	object.get(p, "real", "/proc"),
]))

# The literal parts' regex: computed once at load (data.sandbox_derived), or here without the
# derived data (policy tests).
literals_regex := data.sandbox_derived.secret_literals_regex if {
	data.sandbox_derived.secret_literals_regex
} else := data.sandbox.lib.derived.secret_literals_regex

path_reason(p) := reason(
	"secret_file",
	sprintf("%s is a secret file (it matches secret_file_patterns); %s", [data.sandbox.lib.show(p), advice]),
) if {
	data.sandbox.lib.secret_path(p.path)
} else := reason(
	"secret_file",
	sprintf("%s is a secret file (it matches secret_file_patterns); %s", [data.sandbox.lib.show_loc(p, p.real), advice]),
) if {
	data.sandbox.lib.secret_path(p.real)
} else := reason(
	"process_environment",
	sprintf("reading %s is not allowed: it exposes a process's environment or memory, which may hold credentials; pass configuration explicitly instead", [data.sandbox.lib.show_loc(p, loc)]),
) if {
	some loc in {p.path, p.real}
	data.sandbox.lib.process_secret(loc)
}

# --- directories read recursively --------------------------------------------------------

# What a recursive read reaches, for the cheap first check. A walk that was cut short
# gives "/proc", which the literals always include (lib.rego), so that the full check
# below runs for it.
recursive_text(p) := "/proc" if {
	p.contents_truncated == true
} else := concat("\n", p.contents)

recursive_deny(paths) := [r |
	some p in paths
	p.recursive == true
	r := recursive_reason(p)
]

recursive_reason(p) := reason(
	"recursive_read_unchecked",
	sprintf("%s reads everything under %s, which holds more files than can be checked for secret files; %s", [object.get(p, "program", "the command"), data.sandbox.lib.show(p), narrower]),
) if {
	p.contents_truncated == true
} else := reason(
	"secret_file",
	sprintf("%s reads everything under %s, including the secret file(s) %s; %s; %s", [object.get(p, "program", "the command"), data.sandbox.lib.show(p), concat(", ", array.slice(found, 0, 5)), narrower, advice]),
) if {
	found := secret_entries(p.contents)
	count(found) > 0
}

narrower := "name a narrower directory or the files themselves (for example grep -rn TODO backend/)"

# The entries of `contents` that are secret: one regular expression over all of them picks
# the candidates (the secret pattern regex, one entry per line), then the exact check.
secret_entries(contents) := [e |
	some e in regex.find_n(contents_regex, concat("\n", contents), -1)
	data.sandbox.lib.secret_path(e)
]

contents_regex := concat("", [`(?m)^[^\n]*?`, replace(data.sandbox.lib.regex_of("secret_regex"), "[^/", `[^/\n`), `[^\n]*$`])

# --- secret files named in arguments -----------------------------------------------------

argument_deny(inp, path_reasons) := [r |
	some c in inp.shell.commands
	some r in command_argument_deny(c)
] if {
	count(path_reasons) == 0
} else := []

command_argument_deny(c) := [reason(
	"secret_argument",
	sprintf("the argument %v of %s names a secret file; %s", [a, c.program, advice]),
) |
	some i, a in c.argv
	i > 0
	not text[i]
	some part in argument_parts(a)
	data.sandbox.lib.secret_path(part)
] if {
	# arguments the program takes as text, never as a file (a grep pattern, echo's words, git
	# check-ignore's paths: ShellCommand.text_args): a secret file's name there is no read
	text := {i | some i in text_args(c)}
}

text_args(c) := c.text_args if {
	is_array(c.text_args)
} else := []

# The argument, with ":" and "=" separating like "/" (HEAD:.env, --env-file=.env); and when
# it holds a command substitution whose output becomes the argument (cat $(echo .env)), each
# word of it.
argument_parts(a) := [replace(replace(a, "=", "/"), ":", "/")] if {
	not contains(a, "$(")
	not contains(a, "`")
} else := array.concat(
	[replace(replace(a, "=", "/"), ":", "/")],
	[replace(replace(x, "=", "/"), ":", "/") | some x in regex.split("[\\s$()`'\"|;&<>{}]+", a); x != ""],
)

# --- commands that print the environment -------------------------------------------------

command_reason(prog, argv) := reason(
	"process_environment",
	sprintf("%s: printing the process environment is not allowed (it may hold credentials); to check a setting, test it in code (os.environ.get(\"NAME\") is not None) without printing its value", [concat(" ", argv)]),
) if {
	prog in environment_programs
	dumps_environment(prog, argv)
}

dumps_environment(prog, argv) := true if {
	# printenv NAME prints one variable (as echo $NAME does); without names, all of them
	prog == "printenv"
	count([a | some i, a in argv; i > 0; not startswith(a, "-")]) == 0
} else := true if {
	# ... and a variable whose name says it holds a credential (secret_variable_words)
	prog == "printenv"
	some i, a in argv
	i > 0
	some word in object.get(data.settings, "secret_variable_words", [])
	contains(upper(a), word)
} else := true if {
	# `env` with no command to run prints the environment
	prog == "env"
	words := [a |
		some i, a in argv
		i > 0
		not startswith(a, "-")
		not contains(a, "=")
		not argv[i - 1] in {"-u", "--unset", "-C", "--chdir"}
	]
	count(words) == 0
	not "-S" in argv
	not "--split-string" in argv
} else := true if {
	prog == "set"
	count(argv) == 1
} else := true if {
	# export, declare -x, declare -p, typeset, readonly: without names they list variables
	prog in {"export", "declare", "typeset", "readonly"}
	names := [a | some i, a in argv; i > 0; not startswith(a, "-"); not startswith(a, "+")]
	count(names) == 0
	not "-f" in argv
	not "-F" in argv
} else := true if {
	# ps e, ps auxe, ps eww: BSD-style flags with `e` show each process's environment
	prog == "ps"
	some i, a in argv
	i > 0
	regex.match(`^[a-zA-Z]*e[a-zA-Z]*$`, a)
} else := false

# --- hard-coded secrets ------------------------------------------------------------------

finding_reason(s) := reason(
	"hardcoded_secret",
	sprintf("the call contains what looks like a hard-coded secret (%v in %v); do not put credentials in code or commands: read them from an environment variable (os.environ[\"NAME\"]) or a config file that is not committed", [object.get(s, "rule", "?"), object.get(s, "where", "?")]),
)

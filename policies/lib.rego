# Helpers shared by the sandbox policies: path lists and secret file patterns.
#
# Path conventions (docs/design.md "Policy input"): a fact's `path` and `real` are
# workspace-relative ("backend/app.py", "." for the root) or absolute when outside the
# workspace ("/etc/passwd"); `real` is `path` after symlink resolution.
#
# Path lists (writable, outside_read_allowed, outside_read_denied, outside_exec_allowed,
# special_dirs): an entry
# ending in "/" names a directory, the directory itself and everything under it; any other
# entry names exactly one path. Matching is case-sensitive, and a path with a `..`
# component is under no directory.
#
# Secret file patterns: a pattern's components (split on "/"; a trailing "/" only says
# "directory") must match a contiguous run of the path's components anywhere in the path;
# a pattern that starts with "/" is anchored at the root of an absolute path. Components
# match by glob (`*`, `?`, `[...]`, `[!...]`, never across "/"), case-insensitively. A
# path whose file name matches a secret_file_exceptions pattern is not secret unless its
# directory is. runner/policy/data.py implements the same semantics for the sandbox's
# file masking and validates that patterns use only that glob syntax.
#
# Speed: regorus pays for every rule, function call and builtin, so the policies keep to
# one rule per policy, one else-chain per fact, and a cheap first check for the common
# case. What depends on data.settings alone (`derived`: the directory entries of each list,
# the patterns as regular expressions) is computed by the engines once at load and added
# as data.sandbox_derived; without it (`sandbox-runner policy test`, so that tests can
# override data.settings with `with`) it is computed on each evaluation.
package sandbox.lib

import rego.v1

path_lists := ["writable", "outside_read_allowed", "outside_read_denied", "outside_write_allowed", "outside_write_denied", "outside_exec_allowed", "special_dirs"]

# --- what the engines compute once -------------------------------------------------------

derived := {
	"dirs": {name: [e | some e in data.settings[name]; endswith(e, "/")] | some name in path_lists},
	"secret_regex": secret_regex_of(data.settings.secret_file_patterns),
	"secret_literals_regex": secret_literals_regex_of(data.settings.secret_file_patterns),
	"exception_regex": exception_regex_of(data.settings.secret_file_exceptions),
	"process_regex": process_regex_of(data.settings.process_secret_paths),
}

# A derived value (see the header comment).
regex_of(key) := r if {
	r := data.sandbox_derived[key]
} else := derived[key]

# The directory entries of a path list (derived once when the engine loads).
dirs(name) := d if {
	d := data.sandbox_derived.dirs[name]
} else := [e | some e in data.settings[name]; endswith(e, "/")]

# --- path lists --------------------------------------------------------------------------

# `p` is in the path list `entries`, whose directory entries are `dir_entries`.
listed(p, entries, dir_entries) := true if {
	p in entries
} else := true if {
	strings.any_prefix_match(concat("", [p, "/"]), dir_entries)
	not contains(concat("", ["/", p, "/"]), "/../")
} else := false

# --- secret file patterns ----------------------------------------------------------------

# Glob patterns to alternatives of a regular expression (see the header comment).
glob_alternatives(patterns) := replace(
	replace(
		replace(
			replace(
				trim_suffix(replace(concat("|", patterns), "/|", "|"), "/"),
				".", `\.`,
			),
			"*", "[^/]*",
		),
		"?", "[^/]",
	),
	"[!", "[^/",
)

secret_regex_of(patterns) := concat("", ["(?i)(^|/)(", glob_alternatives(patterns), ")(/|$)"])

exception_regex_of(patterns) := concat("", ["(?i)(^|/)(", glob_alternatives(patterns), ")$"]) if {
	count(patterns) > 0
} else := "$^"

process_regex_of(patterns) := concat("", ["^(", glob_alternatives(patterns), ")(/|$)"])

# The longest literal part of each pattern (lowercase), and "/proc": text that contains
# none of them names no secret file and no /proc path (a cheap first check).
secret_literals_regex_of(patterns) := concat("|", [replace(lit, ".", `\.`) |
	some lit in array.concat([longest_literal(lower(p)) | some p in patterns], ["/proc"])
])

longest_literal(pattern) := lit if {
	pieces := regex.split(`[*?]`, regex.replace(trim_suffix(pattern, "/"), `\[[^\]]*\]`, "*"))
	longest := max({count(x) | some x in pieces})
	lit := [x | some x in pieces; count(x) == longest][0]
}

# A secret path (see above): it matches a pattern and is not an exception.
secret_path(p) := true if {
	regex.match(regex_of("secret_regex"), p)
	not excepted(p)
} else := false

excepted(p) if {
	regex.match(regex_of("exception_regex"), p)
	not secret_dir(p)
}

secret_dir(p) if {
	parts := split(p, "/")
	count(parts) > 1
	regex.match(regex_of("secret_regex"), concat("/", array.slice(parts, 0, count(parts) - 1)))
}

# /proc/*/environ and the like (data.settings.process_secret_paths).
process_secret(p) := true if {
	startswith(p, "/proc/")
	regex.match(regex_of("process_regex"), p)
} else := false

# --- messages ----------------------------------------------------------------------------

basename(p) := b if {
	contains(p, "/")
	parts := split(p, "/")
	b := parts[count(parts) - 1]
} else := p

# "backend/, issues.md"
describe(entries) := "none" if {
	count(entries) == 0
} else := concat(", ", entries)

# The path as the model wrote it, and where it resolved to when that differs.
show(fact) := fact.path if {
	fact.raw == fact.path
} else := sprintf("%s (written as %s)", [fact.path, fact.raw])

show_loc(fact, loc) := show(fact) if {
	loc == fact.path
} else := sprintf("%s (which resolves to %s)", [show(fact), loc])

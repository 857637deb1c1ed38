# Scope: where a tool call may read, write and execute.
#
# - writes only under the writable entries (backend/ and issues.md at the workspace root)
#   and, outside the workspace, in the container's scratch space (outside_write_allowed:
#   /tmp/ and the agent's home, tmpfs that never reach the host); never into a protected
#   directory (.git/) anywhere, never through a symlink that leads elsewhere, never to a
#   hard-linked file, never to a target that is only known when the command runs. A
#   pattern whose every match derivation listed (`bounded`: `sed -i ... backend/*.py`,
#   `mkdir backend/{a,b}`) is as good as the paths it lists; a write anywhere under a
#   directory (`recursive`: `find backend -delete`, `grep -rl x backend | xargs sed -i`)
#   needs the directory writable and nothing under it (`contents`) leading elsewhere;
# - nothing through a link this command itself created where its target could not be
#   known (`new_link`: an archive extracted, a tree copied with its links, earlier in the
#   same command); links with a known target (ln -s) are already resolved in `real`;
# - reads anywhere in the workspace (secret files: secrets.rego) and, outside it, anywhere
#   in the container's own filesystem (outside_read_allowed) except outside_read_denied and
#   recursive reads of a directory holding those or kernel special files; exec outside only
#   from system bin dirs;
# - kernel special files (/proc, /sys, /dev) only for the harmless ones (/dev/null, ...);
# - no git configuration that makes git run programs later (hooks, fsmonitor, pager, ...).
#
# Each path fact gets at most one reason: the first that applies, most specific first.
package sandbox.scope

import rego.v1

deny := array.concat(
	[r |
		some p in input.paths
		r := path_reason(p, s)
		r != null
	],
	array.concat(
		[r |
			some c in input.shell.commands
			endswith(c.program, "git")
			data.sandbox.lib.basename(c.program) == "git"
			r := git_reason(c.argv)
		],
		[r |
			some p in input.paths
			r := writable_file_replaced(p, s)
		],
	),
) if {
	s := data.settings
}

reason(rule, msg) := {"policy": "scope", "rule": rule, "msg": msg}

verb := {"read": "reading", "write": "writing", "exec": "running"}

path_reason(p, s) := null if {
	# the common case: a read inside the workspace (not following links out of it)
	p.op == "read"
	p.real == p.path
	p.inside_workspace == true
	not startswith(p.path, "/")
	not p.new_link
	not strings.any_prefix_match(object.get(p, "contents", []), "/")
} else := write_reason(p, s) if {
	# a write whose target is inside the workspace (no kernel special file involved)
	p.op == "write"
	p.real == p.path
	not startswith(p.path, "/")
	not p.new_link
} else := reason(
	"through_new_link",
	sprintf("%s %s is not allowed: %s earlier in this command may have put a symlink there, whose target cannot be checked; run the commands as separate calls", [verb[p.op], data.sandbox.lib.show(p), p.new_link]),
) if {
	p.new_link
} else := null if {
	# /dev/null and the like: harmless whatever the operation
	p.path in s.harmless_specials
} else := reason(
	"special_file",
	sprintf("%s %s is not allowed: kernel special files (/proc, /sys, /dev) are off limits except %s", [verb[p.op], data.sandbox.lib.show(p), data.sandbox.lib.describe(s.harmless_specials)]),
) if {
	startswith(p.path, "/")
	data.sandbox.lib.listed(p.path, s.special_dirs, data.sandbox.lib.dirs("special_dirs"))
} else := reason(
	"special_file",
	sprintf("%s %s is not allowed: kernel special files (/proc, /sys, /dev) are off limits except %s", [verb[p.op], data.sandbox.lib.show_loc(p, p.real), data.sandbox.lib.describe(s.harmless_specials)]),
) if {
	startswith(p.real, "/")
	data.sandbox.lib.listed(p.real, s.special_dirs, data.sandbox.lib.dirs("special_dirs"))
	not p.real in s.harmless_specials
} else := write_reason(p, s) if {
	p.op == "write"
} else := read_reason(p, s) if {
	p.op == "read"
} else := exec_reason(p, s) if {
	p.op == "exec"
} else := reason("malformed_fact", sprintf("unknown operation %v on %s", [p.op, p.path]))

# A writable *file* entry (issues.md) may be written, but not replaced by a link, moved
# away or deleted: its bind mount would break, and a link would point writes elsewhere.
writable_file_replaced(p, s) := reason(
	"replace_writable_file",
	sprintf("%s %s is not allowed: it is a writable file, so change its content with Write or Edit instead of linking, moving or deleting it", [p.program, p.path]),
) if {
	p.op == "write"
	p.program in {"ln", "mv", "rm", "unlink"}
	not endswith(p.path, "/")
	p.path in s.writable
}

# "under backend/ and to issues.md"
writable_text(s) := concat(" and ", [part |
	some part in [
		concat("", ["under ", concat(", ", [e | some e in s.writable; endswith(e, "/")])]),
		concat("", ["to ", concat(", ", [e | some e in s.writable; not endswith(e, "/")])]),
	]
	not part in {"under ", "to "}
])

write_reason(p, s) := reason(
	"dynamic_write_target",
	sprintf("writing %s is not allowed: the target contains a variable, substitution or glob that is only known when the command runs; write the path literally (for example backend/app.py)", [p.raw]),
) if {
	p.dynamic == true
	not p.bounded
} else := null if {
	# scratch space outside the workspace (/tmp, the agent's home): tmpfs in the container,
	# except the files that make shells and tools run commands later (outside_write_denied)
	startswith(p.path, "/")
	p.real == p.path
	data.sandbox.lib.listed(p.path, object.get(s, "outside_write_allowed", []), data.sandbox.lib.dirs("outside_write_allowed"))
	not data.sandbox.lib.listed(p.path, object.get(s, "outside_write_denied", []), data.sandbox.lib.dirs("outside_write_denied"))
} else := reason(
	"write_outside_workspace",
	sprintf("writing %s is not allowed: shells and tools read it when they start and would run what it says unseen (%s are off limits); write scratch files in %s, and scripts under backend/ to run them explicitly", [data.sandbox.lib.show(p), data.sandbox.lib.describe(object.get(s, "outside_write_denied", [])), data.sandbox.lib.describe(object.get(s, "outside_write_allowed", []))]),
) if {
	startswith(p.path, "/")
	data.sandbox.lib.listed(p.path, object.get(s, "outside_write_denied", []), data.sandbox.lib.dirs("outside_write_denied"))
} else := reason(
	"write_outside_workspace",
	sprintf("writing %s is not allowed%s: it is outside the workspace; writes are allowed only %s, and outside the workspace only in %s", [data.sandbox.lib.show(p), note(p), writable_text(s), data.sandbox.lib.describe(object.get(s, "outside_write_allowed", []))]),
) if {
	startswith(p.path, "/")
} else := reason(
	"write_protected_dir",
	sprintf("writing %s is not allowed: nothing inside a %s directory may be written (its hooks and config run code later); write your files %s", [data.sandbox.lib.show(p), data.sandbox.lib.describe(s.protected_dirs), writable_text(s)]),
) if {
	parts := split(lower(p.path), "/")
	some d in s.protected_dirs
	d in parts
} else := reason(
	"write_outside_writable",
	sprintf("writing %s is not allowed%s; writes are allowed only %s (relative to the workspace root)", [data.sandbox.lib.show(p), note(p), writable_text(s)]),
) if {
	# not one of the writable files, and not under a writable directory (derived at load)
	dirs := data.sandbox_derived.dirs.writable
	not p.path in s.writable
	not strings.any_prefix_match(concat("", [p.path, "/"]), dirs)
} else := reason(
	"write_outside_writable",
	sprintf("writing %s is not allowed%s; writes are allowed only %s (relative to the workspace root)", [data.sandbox.lib.show(p), note(p), writable_text(s)]),
) if {
	# the same without the derived data (policy tests)
	not data.sandbox_derived.dirs.writable
	not data.sandbox.lib.listed(p.path, s.writable, data.sandbox.lib.dirs("writable"))
} else := reason(
	"write_outside_writable",
	sprintf("writing %s is not allowed: the path climbs out with ..; write it as a plain path %s", [data.sandbox.lib.show(p), writable_text(s)]),
) if {
	contains(concat("", ["/", p.path, "/"]), "/../")
} else := recursive_write_reason(p, s) if {
	# a write anywhere under a directory: what it holds must not lead elsewhere
	p.recursive == true
} else := null if {
	# the common case: a plain file under a writable directory
	p.real == p.path
	p.hardlinks == 1
	p.inside_workspace == true
} else := reason(
	"write_protected_dir",
	sprintf("writing %s is not allowed: nothing inside a %s directory may be written (its hooks and config run code later); write your files %s", [data.sandbox.lib.show_loc(p, p.real), data.sandbox.lib.describe(s.protected_dirs), writable_text(s)]),
) if {
	parts := split(lower(p.real), "/")
	some d in s.protected_dirs
	d in parts
} else := reason(
	"write_symlink_escape",
	sprintf("writing %s is not allowed: it is a symlink (or under one) that resolves to %s, which is not writable; write a regular file %s instead", [data.sandbox.lib.show(p), p.real, writable_text(s)]),
) if {
	true in [startswith(p.real, "/"), not_writable(p.real, s)]
} else := reason(
	"write_hardlink",
	sprintf("writing %s is not allowed: the file has %v hard links, so the write would also change another file; write a new file %s instead", [data.sandbox.lib.show(p), p.hardlinks, writable_text(s)]),
) if {
	p.hardlinks > 1
} else := reason(
	"write_outside_workspace",
	sprintf("writing %s is not allowed: it resolves outside the workspace; writes are allowed only %s", [data.sandbox.lib.show_loc(p, p.real), writable_text(s)]),
) if {
	p.inside_workspace == false
} else := null

# A write anywhere under a writable directory (p.path and p.real are checked before).
# `contents` lists what is under it (and where its symlinks lead); a delete lists nothing.
recursive_write_reason(p, s) := reason(
	"write_symlink_escape",
	sprintf("%s writes under %s, which holds %s, not writable (a symlink leads there, or it is a protected directory); write the files you mean by name %s", [object.get(p, "program", "the command"), data.sandbox.lib.show(p), concat(", ", array.slice(bad, 0, 3)), writable_text(s)]),
) if {
	dirs := data.sandbox.lib.dirs("writable")
	rx := protected_regex(s)
	bad := [c |
		some c in object.get(p, "contents", [])
		content_escapes(c, dirs, rx)
	]
	count(bad) > 0
} else := reason(
	"write_unchecked",
	sprintf("%s writes under %s, which holds more files than can be checked for symlinks leading elsewhere; name a narrower directory or the files themselves", [object.get(p, "program", "the command"), data.sandbox.lib.show(p)]),
) if {
	p.contents_truncated == true
} else := write_reason_plain(p, s)

content_escapes(c, dirs, _) if not strings.any_prefix_match(c, dirs)

content_escapes(c, _, rx) if regex.match(rx, c)

protected_regex(s) := concat("", ["(?i)(^|/)(", concat("|", [replace(d, ".", `\.`) | some d in s.protected_dirs]), ")(/|$)"])

# The rest of the write chain, for a recursive write whose contents are fine.
write_reason_plain(p, s) := null if {
	p.real == p.path
	p.hardlinks == 1
	p.inside_workspace == true
} else := reason(
	"write_symlink_escape",
	sprintf("writing %s is not allowed: it is a symlink (or under one) that resolves to %s, which is not writable; write a regular file %s instead", [data.sandbox.lib.show(p), p.real, writable_text(s)]),
) if {
	true in [startswith(p.real, "/"), not_writable(p.real, s)]
} else := reason(
	"write_outside_workspace",
	sprintf("writing %s is not allowed: it resolves outside the workspace; writes are allowed only %s", [data.sandbox.lib.show_loc(p, p.real), writable_text(s)]),
) if {
	p.inside_workspace == false
} else := null

# Why a tool writes there, when the call does not say it (derivation's `note`).
note(p) := sprintf(" (%s)", [p.note]) if {
	is_string(p.note)
} else := ""

not_writable(loc, s) := false if {
	data.sandbox.lib.listed(loc, s.writable, data.sandbox.lib.dirs("writable"))
} else := true

# Reads outside the workspace: the container's own filesystem (the image and its tmpfs
# mounts) holds nothing of the host, so reading it is allowed (outside_read_allowed: "/"),
# except what outside_read_denied lists and the kernel special files (special_file, above).
# outside_read_denied holds /run/sandbox-runner (also as /var/run/...): its agent.json is not
# a secret (the task, system prompt, model, tool names and limits the agent was given; the
# gateway token is never in a file), but the directory is the runner's, and its socket is the
# runner's connection to the host; and root's and the system's credential files; credential files are denied by name anywhere
# (secrets.rego). A recursive read (grep -r, tar, cp -r, find -exec, the Grep tool) of a
# directory that holds one of those (`/`, `/run`) is denied as a whole, and so is a path
# that is only known when the command runs (`/$(echo proc)/self/environ`: an expansion can
# climb with `..`) or a pattern whose matches may fall in one (`/*/self/environ`).
read_reason(p, s) := reason(
	"read_outside_workspace",
	sprintf("reading %s is not allowed: %s is off limits (the runner's connection to the host and system credentials); reads outside the workspace are allowed except %s and kernel special files (/proc, /sys, /dev)", [data.sandbox.lib.show_loc(p, loc), denied_entry(loc, s), data.sandbox.lib.describe(object.get(s, "outside_read_denied", []))]),
) if {
	some loc in {p.path, p.real}
	startswith(loc, "/")
	data.sandbox.lib.listed(loc, object.get(s, "outside_read_denied", []), data.sandbox.lib.dirs("outside_read_denied"))
} else := reason(
	"read_outside_workspace",
	sprintf("reading %s is not allowed: it is outside the workspace; reads are allowed anywhere in the workspace and, outside it, only %s", [data.sandbox.lib.show_loc(p, loc), data.sandbox.lib.describe(s.outside_read_allowed)]),
) if {
	some loc in {p.path, p.real}
	startswith(loc, "/")
	not data.sandbox.lib.listed(loc, s.outside_read_allowed, data.sandbox.lib.dirs("outside_read_allowed"))
} else := reason(
	"dynamic_read_outside",
	sprintf("reading %s is not allowed: outside the workspace, a path holding a variable or substitution is only known when the command runs, and could reach %s; write the path literally", [data.sandbox.lib.show(p), few(offlimits(s))]),
) if {
	p.dynamic == true
	startswith(p.path, "/")
	regex.match("[$`]|\\{\\}", p.raw)
} else := reason(
	"dynamic_read_outside",
	sprintf("reading %s is not allowed: the pattern matches under %s, which holds %s; start the pattern in a narrower directory, for example /opt/venv/lib/python3.11/site-packages/*/__init__.py", [data.sandbox.lib.show(p), base, few(inner)]),
) if {
	p.dynamic == true
	input.tool.name != "Glob" # the Glob tool lists names, it reads no file
	startswith(p.path, "/")
	base := regex.replace(regex.replace(p.path, "[*?\\[].*$", ""), "[^/]*$", "")
	inner := [d | some d in offlimits(s); under_dir(d, base)]
	count(inner) > 0
} else := reason(
	"recursive_read_special",
	sprintf("%s reads everything under %s%s, which holds %s (kernel special files and process state, or the runner's files); name a narrower directory, for example /opt/venv/lib/python3.11/site-packages/fastapi or /usr/lib/python3.11", [reader(p), data.sandbox.lib.show(p), reach_text(p, locs), few(inner)]),
) if {
	recursive_read(p)
	locs := sort({loc | some loc in recursive_outside(p); some d in offlimits(s); under_dir(d, loc)})
	count(locs) > 0
	inner := [d | some d in offlimits(s); under_any(d, locs)]
} else := reason(
	"read_outside_workspace",
	sprintf("reading %s is not allowed: it resolves outside the workspace", [data.sandbox.lib.show_loc(p, p.real)]),
) if {
	p.inside_workspace == false
	not startswith(p.real, "/")
} else := null

reach_text(p, locs) := "" if {
	locs == [p.path]
} else := sprintf(" (which is %s)", [locs[0]]) if {
	locs == [p.real]
} else := sprintf(" (which reaches %s)", [few(locs)])

reader(p) := p.program if {
	is_string(p.program)
} else := sprintf("the %s tool", [input.tool.name])

few(entries) := concat(", ", entries) if {
	count(entries) <= 4
} else := sprintf("%s ...", [concat(", ", array.slice(entries, 0, 4))])

# Kernel special directories and outside_read_denied: what no read outside may reach.
offlimits(s) := array.concat(s.special_dirs, object.get(s, "outside_read_denied", []))

# The outside_read_denied entry `loc` is listed by.
denied_entry(loc, s) := e if {
	some e in object.get(s, "outside_read_denied", [])
	true in [e == loc, startswith(concat("", [loc, "/"]), e)]
} else := loc

# Where a recursive read reaches outside the workspace: the directory itself, and the
# targets of the links it follows (absolute entries of `contents`: grep -R over a link to /).
recursive_outside(p) := {loc |
	some loc in array.concat([p.path, p.real], object.get(p, "contents", []))
	startswith(loc, "/")
}

# A read of everything under the path: a recursive program's directory, or the Grep tool's path.
recursive_read(p) if p.recursive == true

recursive_read(p) if {
	input.tool.name == "Grep"
	p.via == "tool"
}

under_any(d, dirs) if {
	some dir in dirs
	under_dir(d, dir)
}

# Entry `d` of a path list (a directory "x/" or a path) is at or under directory `dir`.
under_dir(d, dir) if startswith(d, concat("", [trim_suffix(dir, "/"), "/"]))

under_dir(d, dir) if trim_suffix(d, "/") == trim_suffix(dir, "/")

under_dir(d, dir) if startswith(dir, d) # the directory is itself inside a listed one

exec_reason(p, s) := reason(
	"exec_outside_workspace",
	sprintf("running %s is not allowed: outside the workspace only system programs run (%s); run a script from the workspace (for example backend/scripts/task.sh) instead", [data.sandbox.lib.show_loc(p, loc), data.sandbox.lib.describe(s.outside_exec_allowed)]),
) if {
	some loc in {p.path, p.real}
	startswith(loc, "/")
	not data.sandbox.lib.listed(loc, s.outside_exec_allowed, data.sandbox.lib.dirs("outside_exec_allowed"))
} else := reason(
	"exec_outside_workspace",
	sprintf("running %s is not allowed: it resolves outside the workspace", [data.sandbox.lib.show_loc(p, p.real)]),
) if {
	p.inside_workspace == false
	not startswith(p.real, "/")
} else := null

# --- git configuration that runs code later ----------------------------------------------

# git's global options that take a separate value.
git_valued_options := {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}

git_subcommand(argv) := argv[min(positions)] if {
	positions := [i |
		some i, a in argv
		i > 0
		not startswith(a, "-")
		not argv[i - 1] in git_valued_options
	]
	count(positions) > 0
}

git_reason(argv) := reason(
	"git_config_exec",
	sprintf("git -c %s is not allowed: that key makes git run a program; run git without it", [kv]),
) if {
	some i, flag in argv
	flag in {"-c", "--config-env"}
	kv := argv[i + 1]
	git_exec_key(kv)
} else := reason(
	"git_config_exec",
	sprintf("git %s is not allowed: that key makes git run a program; run git without it", [a]),
) if {
	some a in argv
	startswith(a, "--config-env=")
	git_exec_key(substring(a, 13, -1))
} else := reason(
	"git_config_write",
	"changing git configuration is not allowed (it lives in .git/config or your home directory, and keys such as core.hooksPath or core.fsmonitor make git run programs later); reading it with git config --get or --list is allowed",
) if {
	git_subcommand(argv) == "config"
	not git_config_reads(argv)
}

git_config_reads(argv) if {
	some a in argv
	a in {"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "get", "list"}
}

git_exec_key(kv) if {
	k := lower(kv)
	some key in data.settings.git_exec_config_keys
	startswith(k, key)
}

package main

import (
	"fmt"
	"io"
	"strings"
)

// A command's help: its synopsis (after "ferry [--config FILE]"), what it
// does and its flags, and an example. `ferry help COMMAND` and
// `ferry COMMAND --help` print it; `ferry help` prints them all, short.
type command struct {
	name, synopsis, about, example string
}

var commands = []command{
	{"serve", "serve [--listen ADDR] [--data DIR]",
		`Runs the service until SIGINT or SIGTERM (then it finishes the requests
in flight, for up to 30 s). It creates the data directory and the store
when they are missing.

  --listen ADDR   the address to listen on, over the config's listen
  --data DIR      the data directory, over the config's data_dir`,
		"ferry --config /etc/ferry/ferry.toml serve --listen 127.0.0.1:8080"},
	{"user add", "user add --email E (--password P | --password-stdin) [--name N] [--package NAME] [--admin]",
		`Creates a user and prints its id. It creates the store when it is
missing, so that the first user can be made before the first serve.

  --email E          the user's email, their login
  --password P       the password (at least 8 characters)
  --password-stdin   read the password from the first line of standard input
  --name N           the full name
  --package NAME     the quota package (default: default_package)
  --admin            make the user an administrator (the /admin/ calls
                     and pages)`,
		`printf '%s\n' "$PASSWORD" | ferry user add --email bob@example.com --password-stdin --name "Bob B"`},
	{"user set", "user set --email E [--package NAME] [--storage SIZE] [--receive SIZE] [--disabled=true|false] [--admin=true|false] [--reset-2fa] [--password-stdin]",
		`Changes a user and prints their user list line. SIZE is bytes or 10MB,
5GiB, ...; 0 is unlimited; "package" is the package's limit again.

  --package NAME     the quota package
  --storage SIZE     the storage quota
  --receive SIZE     the monthly receive quota
  --disabled=BOOL    disable (true) or enable (false) the account
  --admin=BOOL       make the user an administrator (true) or not (false)
  --reset-2fa        turn two-factor sign-in off, for a person who lost
                     the device with their codes
  --password-stdin   set the password from the first line of standard
                     input; every token and the app password end`,
		"ferry user set --email bob@example.com --storage 20GB --receive package"},
	{"user delete", "user delete --email E",
		`Deletes an account and everything it owns; its pending sends, both
ways, end as expired. The email can sign up again.`,
		"ferry user delete --email bob@example.com"},
	{"user list", "user list",
		`Prints one line a user: email, package, used/quota, received this
month/receive quota, "disabled", "2fa" (two-factor sign-in on) and
"admin".`,
		"ferry user list"},
	{"mail list", "mail list",
		`Prints the mail outbox: id, status (queued, sent, failed), attempts,
created, recipient, subject and the last error.`,
		"ferry mail list"},
	{"audit export", "audit export [--since T] [--until T] [--format jsonl|csv]",
		`Prints the audit log's events, oldest first: each sign-in (and failed
one), password and two-factor change, token, link and its downloads,
send and decision, and account made, deleted or changed by an
administrator, with who, from where, what and on what. T is a date
(2026-12-01) or an RFC 3339 time; --until is not included. jsonl is a
JSON object a line; csv has a header line and the detail as JSON.

  --since T          only events at or after T
  --until T          only events before T
  --format F         jsonl (the default) or csv`,
		"ferry audit export --since 2026-11-01 --format csv > audit.csv"},
	{"cluster status", "cluster status",
		`Prints each node of the cluster (the config's [cluster] etcd): its
internal address, how many accounts it owns, and whether it is live. A
node that owns accounts but is not live is down: its users' requests
answer 503 until it is back.`,
		"ferry cluster status"},
	{"cluster move", "cluster move --email E --to NODE",
		`Moves the account E to the live node NODE while it is in use: its
requests answer 503 for the few seconds the move takes (those under way
finish first), its folder, sign-ins, sessions, links, contacts and sends
waiting both ways go to NODE, and the directory switches only if
nothing changed its entry since the move began. An account with file
requests moves once they are closed. See docs/cluster.md.

  --email E          the account
  --to NODE          the node to move it to`,
		"ferry cluster move --email ann@example.com --to node-b"},
	{"backup", "backup --out FILE",
		`Writes a consistent backup (a tar file of ferry.db and the blob files
it refers to), also while ferry serve runs. With blobs in S3 it holds
ferry.db and a manifest of the objects it refers to, which stay in the
bucket (see docs/operations.md, "Blobs in S3").`,
		"ferry backup --out /var/backups/ferry-$(date +%F).tar"},
	{"restore", "restore --from FILE --data DIR",
		`Unpacks a backup into the empty or missing directory DIR and checks it
(a full fsck); then set data_dir = DIR.`,
		"ferry restore --from ferry-2026-11-30.tar --data /var/lib/ferry-restored"},
	{"fsck", "fsck [--quick] [--repair]",
		`Checks the store: one line per problem, exit 1 if any.

  --quick    do not hash the blob files
  --repair   first fix what can be derived (totals, counts, stray files)`,
		"ferry fsck --quick"},
	{"blobs migrate", "blobs migrate --to s3",
		`Moves the files' contents from the data directory to the S3 bucket of
the config's [blobs] section: copies each, reads it back and checks its
hash, then sets blobs.backend = "s3" in the config file. Stop ferry serve
first. It can be stopped and run again: it goes on where it was. The
local files stay until you remove them.`,
		"ferry --config /etc/ferry/ferry.toml blobs migrate --to s3"},
	{"version", "version", `Prints "ferry VERSION (COMMIT) GOVERSION".`, "ferry version"},
	{"help", "help [COMMAND]", "Prints the commands, or one command's help.", "ferry help user set"},
}

// findCommand returns the command named name ("user add"), if any.
func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printHelp writes c's help to w.
func printHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: ferry [--config FILE] %s\n\n%s\n\nexample:\n  %s\n", c.synopsis, c.about, c.example)
}

// isGroup reports whether name is a group of commands ("user" for "user
// add", "user set", ...).
func isGroup(name string) bool {
	for _, c := range commands {
		if strings.HasPrefix(c.name, name+" ") {
			return true
		}
	}
	return false
}

// printGroup writes the synopsis and first paragraph of each command of a
// group to w, as git does for a command with subcommands.
func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: ferry [--config FILE] %s COMMAND [FLAGS]\n\ncommands:\n", group)
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			about, _, _ := strings.Cut(c.about, "\n\n")
			fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis, strings.ReplaceAll(about, "\n", "\n      "))
		}
	}
	fmt.Fprintf(w, "\n\"ferry help %s COMMAND\" or \"ferry %s COMMAND --help\" tells more of one.\n", group, group)
}

// printUsage writes every command's synopsis to w.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "usage: ferry [--config FILE] COMMAND [FLAGS]\n\ncommands:\n")
	for _, c := range commands {
		about, _, _ := strings.Cut(c.about, "\n\n")
		fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis, strings.ReplaceAll(about, "\n", "\n      "))
	}
	fmt.Fprint(w, `
Every command takes --config FILE (TOML, see config.example.toml); without
one ferry runs on the built-in defaults. "ferry help COMMAND" or
"ferry COMMAND --help" tells more of one.
`)
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

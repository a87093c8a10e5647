// Command ferry runs the ferry service and its admin commands. See
// `ferry help` and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/version"
)

// errUsage marks a command line that could not be understood (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "ferry:", errorText(err))
		os.Exit(1)
	}
}

// errorText is what the admin sees of an error: the message of an API
// error, the error itself otherwise.
func errorText(err error) string {
	if ferry.ErrorCode(err) != ferry.EUNKNOWN {
		return ferry.ErrorMessage(err)
	}
	return err.Error()
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	global := flag.NewFlagSet("ferry", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { printUsage(stderr) }
	configPath := global.String("config", "", "config file (TOML)")
	if wantsHelp(args[:min(1, len(args))]) {
		printUsage(stdout)
		return nil
	}
	if err := global.Parse(args); err != nil {
		return usageError(err)
	}
	args = global.Args()
	if len(args) == 0 {
		printUsage(stderr)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	if isGroup(cmd) {
		switch {
		case len(args) == 0:
			printGroup(stderr, cmd)
			return errUsage
		case wantsHelp(args[:1]):
			printGroup(stdout, cmd)
			return nil
		case !strings.HasPrefix(args[0], "-"):
			if _, ok := findCommand(cmd + " " + args[0]); !ok {
				fmt.Fprintf(stderr, "ferry: %s has no command %q\n\n", cmd, args[0])
				printGroup(stderr, cmd)
				return errUsage
			}
		}
		cmd, args = cmd+" "+args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "--help":
		if len(args) == 0 {
			printUsage(stdout)
			return nil
		}
		if wantsHelp(args) {
			args = []string{"help"}
		}
		c, ok := findCommand(strings.Join(args[:min(2, len(args))], " "))
		if !ok {
			c, ok = findCommand(args[0])
		}
		if !ok && isGroup(args[0]) && (len(args) == 1 || wantsHelp(args[1:2])) {
			printGroup(stdout, args[0])
			return nil
		}
		if !ok {
			fmt.Fprintf(stderr, "ferry: no command %q\n\n", strings.Join(args, " "))
			printUsage(stderr)
			return errUsage
		}
		printHelp(stdout, c)
		return nil
	}
	c, ok := findCommand(cmd)
	if !ok {
		fmt.Fprintf(stderr, "ferry: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return errUsage
	}
	if wantsHelp(args) {
		printHelp(stdout, c)
		return nil
	}
	fs := flag.NewFlagSet("ferry "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr); printHelp(stderr, c) }
	fs.StringVar(configPath, "config", *configPath, "config file (TOML)")

	switch cmd {
	case "serve":
		listen := fs.String("listen", "", "the address to listen on, over the config's")
		data := fs.String("data", "", "the data directory, over the config's")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		return serve(ctx, *configPath, *listen, *data)
	case "user add":
		return userAdd(fs, args, configPath, stdin, stdout)
	case "user set":
		return userSet(fs, args, configPath, stdin, stdout)
	case "user delete":
		email := fs.String("email", "", "the user's email")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		if *email == "" {
			return errors.New("user delete needs --email")
		}
		return withAdmin(*configPath, func(a app.Admin) error {
			if err := a.DeleteUser(*email); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "deleted", *email)
			return nil
		})
	case "user list":
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		return withAdmin(*configPath, func(a app.Admin) error {
			lines, err := a.ListUsers()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			for _, l := range lines {
				fmt.Fprintln(tw, l)
			}
			return tw.Flush()
		})
	case "mail list":
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		return withAdmin(*configPath, func(a app.Admin) error {
			list, err := a.ListMail()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			for _, q := range list {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", q.ID, q.Status, q.Attempts,
					q.Created.Format("2006-01-02 15:04"), q.To, q.Subject, q.LastError)
			}
			return tw.Flush()
		})
	case "audit export":
		since := fs.String("since", "", "only events at or after this time (RFC 3339, or a date)")
		until := fs.String("until", "", "only events before this time")
		format := fs.String("format", "jsonl", "jsonl (a JSON object a line) or csv")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		req := app.AuditExport{Format: *format}
		var err error
		if req.Since, err = parseWhen("--since", *since); err != nil {
			return err
		}
		if req.Until, err = parseWhen("--until", *until); err != nil {
			return err
		}
		return withAdmin(*configPath, func(a app.Admin) error { return a.ExportAudit(req, stdout) })
	case "cluster status":
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		cfg, err := app.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		return app.ClusterStatus(ctx, cfg, stdout)
	case "cluster move":
		email := fs.String("email", "", "the account's email")
		to := fs.String("to", "", "the node to move it to")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		if *email == "" || *to == "" {
			return usageError(errors.New("cluster move needs --email and --to"))
		}
		cfg, err := app.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		return app.ClusterMove(ctx, cfg, *email, *to, stdout)
	case "backup":
		out := fs.String("out", "", "the backup file to write")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		if *out == "" {
			return errors.New("backup needs --out FILE")
		}
		return withAdmin(*configPath, func(a app.Admin) error { return writeBackup(a, *out, stdout) })
	case "restore":
		from := fs.String("from", "", "the backup file")
		data := fs.String("data", "", "the data directory to restore into (empty or missing)")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		if *from == "" || *data == "" {
			return errors.New("restore needs --from FILE and --data DIR")
		}
		return restore(*configPath, *from, *data, stdout)
	case "blobs migrate":
		to := fs.String("to", "", "where to move the blobs: s3")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		if *to != "s3" {
			return errors.New("blobs migrate needs --to s3")
		}
		return migrateBlobs(ctx, *configPath, stdout)
	case "fsck":
		var req app.FsckRequest
		fs.BoolVar(&req.Quick, "quick", false, "do not hash the blob files")
		fs.BoolVar(&req.Repair, "repair", false, "fix what can be derived first")
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		return withAdmin(*configPath, func(a app.Admin) error {
			rep, err := a.Fsck(req)
			if err != nil {
				return err
			}
			for _, f := range rep.Fixes {
				fmt.Fprintln(stdout, "fixed:", f)
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(stdout, p)
			}
			for _, d := range rep.Debris {
				fmt.Fprintln(stdout, "debris:", d)
			}
			if len(rep.Problems) > 0 {
				return fmt.Errorf("fsck: %d problems", len(rep.Problems))
			}
			if n := len(rep.Debris); n > 0 {
				fmt.Fprintf(stdout, "fsck: no problems; %s left by writes cut off before their commit (no damage: the next start of ferry serve removes them, or fsck --repair now)\n", words.Count(n, "file"))
				return nil
			}
			fmt.Fprintln(stdout, "fsck: no problems")
			return nil
		})
	case "version":
		if err := fs.Parse(args); err != nil {
			return usageError(err)
		}
		fmt.Fprintln(stdout, version.Get())
		return nil
	default: // a command of the table without a case here
		return fmt.Errorf("command %q is not built", cmd)
	}
}

func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errUsage
}

func serve(ctx context.Context, configPath, listen, data string) error {
	cfg, err := app.LoadConfig(configPath)
	if err != nil {
		return err
	}
	// Flags win over the file. A public_url that followed the listen
	// address follows the flag's.
	if listen != "" {
		if cfg.PublicURL == "http://"+cfg.Listen {
			cfg.PublicURL = ""
		}
		cfg.Listen = listen
	}
	if data != "" {
		cfg.DataDir = data
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	tuneRuntime()
	a, err := app.New(cfg, app.Options{})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// tuneRuntime sets the Go runtime up for ferry serve; GOGC and GOMAXPROCS
// in the environment win over it.
//
// The garbage collector runs at GOGC=serveGCPercent. The live heap of a
// server is small (about 12 MiB with 1,000 users and a million files), but
// every commit allocates afresh: bbolt rebuilds the nodes of each page it
// changes in each transaction. Go's default of 100 made dozens of
// collections a second under writes, a fifth of the CPU of concurrent sends
// (bench row 7). At 400 the heap may grow to five times what is live before
// a collection (16 MiB at least; about 60 MiB at 12 MiB live), for a third
// more writes per second. Password hashes hand their 7 MiB back at once
// (store's hashDone), so logins do not keep that much more in RSS.
//
// There is one more P than Go would run. Writes wait on one goroutine, the
// commit loop, which spends most of its time in fdatasync; Go gives its P
// away meanwhile, and when the sync returned the loop queued for a P behind
// request goroutines while every writer waited on it. With a spare P it runs
// at once, and the kernel, which favours a thread that was asleep, gives it
// a CPU: 10-15% more concurrent sends per second on two cores.
func tuneRuntime() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}

const serveGCPercent = 400

// parseWhen reads a time of --since or --until: RFC 3339, or a date
// (midnight UTC); "" is no bound.
func parseWhen(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time (2026-12-01, or 2026-12-01T09:00:00Z)", flag, v)
}

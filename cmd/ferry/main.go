// Command ferry runs the ferry service and its admin commands. See
// `ferry help` and the README.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/quota"
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

// withAdmin runs f with the admin of the configured data directory: the
// running server's when there is one, the store's otherwise.
func withAdmin(configPath string, f func(app.Admin) error) error {
	return admin(configPath, false, f)
}

// admin runs f as withAdmin does; only with create is a missing store made
// (user add), so that a command pointed at the wrong data_dir says so
// instead of making an empty store there.
func admin(configPath string, create bool, f func(app.Admin) error) error {
	cfg, err := app.LoadConfig(configPath)
	if err != nil {
		return err
	}
	if !create && !app.HasStore(cfg) {
		return fmt.Errorf("no ferry store in %s (data_dir): ferry serve or ferry user add makes one; does --config name the right file?", cfg.DataDir)
	}
	a, closer, err := app.OpenAdmin(cfg)
	if err != nil {
		return err
	}
	defer closer.Close()
	return f(a)
}

func userAdd(fs *flag.FlagSet, args []string, configPath *string, stdin io.Reader, stdout io.Writer) error {
	var req app.AddUserRequest
	var passwordStdin bool
	fs.StringVar(&req.Email, "email", "", "the user's email (login)")
	fs.StringVar(&req.Password, "password", "", "the user's password")
	fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.StringVar(&req.Name, "name", "", "the user's full name")
	fs.StringVar(&req.Package, "package", "", "quota package (default: default_package)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if req.Email == "" {
		return errors.New("user add needs --email")
	}
	switch {
	case passwordStdin && req.Password != "":
		return errors.New("give --password or --password-stdin, not both")
	case passwordStdin:
		var err error
		if req.Password, err = passwordLine(stdin); err != nil {
			return err
		}
	case req.Password == "":
		return errors.New("user add needs --password or --password-stdin")
	}
	return admin(*configPath, true, func(a app.Admin) error {
		id, err := a.AddUser(req)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, id)
		return nil
	})
}

// passwordLine reads a password from the first line of stdin.
func passwordLine(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func userSet(fs *flag.FlagSet, args []string, configPath *string, stdin io.Reader, stdout io.Writer) error {
	var req app.SetUserRequest
	fs.StringVar(&req.Email, "email", "", "the user's email")
	passwordStdin := fs.Bool("password-stdin", false, "set the password from the first line of standard input; ends every token and the app password")
	pkg := fs.String("package", "", "quota package")
	storage := fs.String("storage", "", `storage quota: SIZE, 0 = unlimited, "package" = the package's`)
	receive := fs.String("receive", "", `monthly receive quota: SIZE, 0 = unlimited, "package" = the package's`)
	disabled := fs.Bool("disabled", false, "disable (true) or enable (false) the account")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if req.Email == "" {
		return errors.New("user set needs --email")
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "package":
			req.Package = pkg
		case "storage":
			req.Storage, err = parseLimit("--storage", *storage, err)
		case "receive":
			req.Receive, err = parseLimit("--receive", *receive, err)
		case "disabled":
			req.Disabled = disabled
		}
	})
	if err != nil {
		return err
	}
	if *passwordStdin {
		pw, err := passwordLine(stdin)
		if err != nil {
			return err
		}
		req.Password = &pw
	}
	return withAdmin(*configPath, func(a app.Admin) error {
		line, err := a.SetUser(req)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, line)
		return nil
	})
}

// parseLimit reads a SIZE flag; "package" means the package's limit. An
// earlier error is passed on.
func parseLimit(name, v string, prev error) (*int64, error) {
	if prev != nil {
		return nil, prev
	}
	if v == "package" {
		n := app.FromPackage
		return &n, nil
	}
	n, err := quota.ParseSize(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &n, nil
}

// writeBackup writes a backup to path: to a temporary file, fsynced, then
// renamed, so that path never holds half a backup.
func writeBackup(a app.Admin, path string, stdout io.Writer) error {
	if err := app.WriteFileAtomic(path, 0o600, a.Backup, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "backup written to", path)
	return nil
}

// restore unpacks a backup into dir and runs a full fsck on the result
// (with blobs in S3, as the config says: every object the backup's
// manifest lists must still be in the bucket).
func restore(configPath, from, dir string, stdout io.Writer) error {
	cfg, err := app.LoadConfig(configPath)
	if err != nil {
		return err
	}
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	problems, err := app.Restore(cfg, f, dir)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("restore: the restored store has %d problems", len(problems))
	}
	fmt.Fprintln(stdout, "restored into", dir, "and checked: no problems")
	return nil
}

// migrateBlobs copies the store's blobs to the bucket of the config's
// [blobs] settings, then sets blobs.backend = "s3" in the config file.
func migrateBlobs(ctx context.Context, configPath string, stdout io.Writer) error {
	if configPath == "" {
		return errors.New("blobs migrate needs --config: it reads the bucket's settings from it, and switches it to the bucket")
	}
	cfg, err := app.LoadConfig(configPath)
	if err != nil {
		return err
	}
	if cfg.Blobs.Backend == "s3" {
		return errors.New("blobs.backend is s3 already")
	}
	cfg.Blobs.Backend = "s3"
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("the bucket's settings: %w", err)
	}
	if err := app.MigrateBlobs(ctx, cfg, stdout); err != nil {
		return fmt.Errorf("%w (run it again to go on from here)", err)
	}
	if err := app.SetBlobsBackend(configPath, "s3"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s now says blobs.backend = \"s3\"; start ferry serve again. The files under %s are no longer used: remove them once you have checked the service.\n",
		configPath, filepath.Join(cfg.DataDir, "blobs"))
	return nil
}

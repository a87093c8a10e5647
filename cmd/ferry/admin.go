package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/quota"
)

// The admin commands: each goes through app.Admin (the running server's
// admin socket, or the store of the data directory), or app's maintenance
// calls for a directory no server runs on.

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
	fs.BoolVar(&req.Admin, "admin", false, "make the user an administrator")
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
	fs.BoolVar(&req.ResetTwoFactor, "reset-2fa", false, "turn two-factor sign-in off (the person lost their device)")
	isAdmin := fs.Bool("admin", false, "make the user an administrator (true) or not (false)")
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
		case "admin":
			req.Admin = isAdmin
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

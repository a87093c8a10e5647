package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/cluster"
	"github.com/ferryhq/ferry/quota"
	"github.com/ferryhq/ferry/store"
)

// Admin is what the admin commands (`ferry user ...`) do. LocalAdmin does it
// on a store it holds; the client from OpenAdmin asks a running `ferry serve`
// over its admin socket, since bbolt lets one process at a time open the
// database.
type Admin interface {
	// AddUser creates a user and returns its id.
	AddUser(req AddUserRequest) (uint64, error)
	// SetUser changes a user and returns them as they are now.
	SetUser(req SetUserRequest) (UserLine, error)
	// DeleteUser deletes the account with email and everything it owns.
	DeleteUser(email string) error
	// ListUsers returns every user, ordered by email.
	ListUsers() ([]UserLine, error)
	// ListMail returns the mail outbox, oldest first.
	ListMail() ([]ferry.QueuedMail, error)
	// Fsck checks the store (quick: without hashing the blob files),
	// repairing first what can be derived when repair is set.
	Fsck(req FsckRequest) (FsckReport, error)
	// Backup writes a consistent backup of the store to w (a tar file).
	Backup(w io.Writer) error
	// ExportAudit writes the audit log's events to w, oldest first.
	ExportAudit(req AuditExport, w io.Writer) error
}

// FsckRequest is `ferry fsck`.
type FsckRequest struct {
	Quick  bool `json:"quick"`
	Repair bool `json:"repair"`
}

// FsckReport is what fsck found: what it fixed, and what is wrong (after
// the fixes).
type FsckReport struct {
	Fixes    []string `json:"fixes"`
	Problems []string `json:"problems"`
	// Debris is what writes cut off before their commit left (blob files
	// no record refers to): no damage, swept at the next start of ferry
	// serve, or now by --repair.
	Debris []string `json:"debris"`
}

// AddUserRequest is `ferry user add`. An empty Package is the default one.
type AddUserRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Package  string `json:"package"`
	// Admin makes the account an administrator.
	Admin bool `json:"admin,omitempty"`
}

// FromPackage, as a SetUserRequest's Storage or Receive, removes the user's
// own limit so that their package's applies again.
const FromPackage int64 = -1

// SetUserRequest is `ferry user set`; nil fields are left as they are.
// Storage and Receive are bytes, 0 for unlimited, FromPackage to drop the
// user's own limit.
type SetUserRequest struct {
	Email    string  `json:"email"`
	Package  *string `json:"package,omitempty"`
	Storage  *int64  `json:"storage,omitempty"`
	Receive  *int64  `json:"receive,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	// Password, when set, becomes the user's password; every token and
	// the app password of the account end.
	Password *string `json:"password,omitempty"`
	// ResetTwoFactor turns the user's two-factor sign-in off, for a person
	// who lost their device.
	ResetTwoFactor bool `json:"reset_2fa,omitempty"`
	// Admin gives or takes away the administrator's role.
	Admin *bool `json:"admin,omitempty"`
}

// UserLine is a user as `ferry user list` shows them. Storage and Receive
// are the limits in force (0 = unlimited); Received counts this month only.
type UserLine struct {
	ID       uint64 `json:"id"`
	Email    string `json:"email"`
	Package  string `json:"package"`
	Disabled bool   `json:"disabled"`
	// TwoFactor says the user signs in with a code after the password.
	TwoFactor bool `json:"two_factor"`
	// Admin says the user is an administrator.
	Admin    bool  `json:"admin"`
	Used     int64 `json:"used"`
	Storage  int64 `json:"storage"`
	Received int64 `json:"received"`
	Receive  int64 `json:"receive"`
}

// String is the line `ferry user list` prints: email, package, used/quota,
// received/receive quota, and "disabled" when it is.
func (l UserLine) String() string {
	s := fmt.Sprintf("%s\t%s\t%s/%s\t%s/%s", l.Email, l.Package,
		quota.FormatSize(l.Used), limitText(l.Storage), quota.FormatSize(l.Received), limitText(l.Receive))
	if l.Disabled {
		s += "\tdisabled"
	}
	if l.TwoFactor {
		s += "\t2fa"
	}
	if l.Admin {
		s += "\tadmin"
	}
	return s
}

func limitText(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return quota.FormatSize(n)
}

// LocalAdmin carries out admin commands on an open store.
type LocalAdmin struct {
	DB       *store.DB
	Packages quota.Packages
	Now      func() time.Time
	// Claims is the cluster's directory, in cluster mode: an account is
	// claimed before it is made, and released when it is deleted.
	Claims *claims
}

var _ Admin = (*LocalAdmin)(nil)

// AddUser implements Admin. It returns the store's errors for a bad or
// taken email or a bad password, and METHOD_BAD_REQUEST for an unknown
// package.
func (a *LocalAdmin) AddUser(req AddUserRequest) (uint64, error) {
	if req.Package == "" {
		req.Package = a.Packages.Default
	}
	if !a.Packages.Has(req.Package) {
		return 0, unknownPackage(req.Package)
	}
	ctx := cliContext()
	create := func() (*ferry.User, error) {
		return a.DB.CreateUser(ctx, ferry.NewUser{Email: req.Email, Password: req.Password, FullName: req.Name, Package: req.Package})
	}
	var u *ferry.User
	var err error
	if a.Claims != nil {
		u, err = claimed(ctx, *a.Claims, req.Email, create)
	} else {
		u, err = create()
	}
	if err != nil {
		return 0, err
	}
	if req.Admin {
		if _, err := a.DB.UpdateUser(ctx, u.ID, func(u *ferry.User) error { u.Admin = true; return nil }); err != nil {
			return 0, err
		}
	}
	return u.ID, nil
}

// DeleteUser implements Admin: as POST /account/delete, without the
// password; USER_NOT_FOUND for an unknown email.
func (a *LocalAdmin) DeleteUser(email string) error {
	return a.deleteUser(cliContext(), email)
}

func (a *LocalAdmin) deleteUser(ctx context.Context, email string) error {
	u, err := a.DB.UserByEmail(email)
	if err != nil {
		return err
	}
	if err := a.DB.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	if a.Claims != nil {
		return a.Claims.c.Release(ctx, u.Email)
	}
	return nil
}

// cliContext is the context of the admin CLI's changes: its actor in the
// audit log.
func cliContext() context.Context {
	return ferry.WithActor(context.Background(), ferry.Actor{Email: ferry.ActorAdminCLI})
}

// SetUser implements Admin. It returns USER_NOT_FOUND for an unknown email
// and METHOD_BAD_REQUEST for an unknown package or a negative size.
func (a *LocalAdmin) SetUser(req SetUserRequest) (UserLine, error) {
	return a.setUser(cliContext(), req)
}

func (a *LocalAdmin) setUser(ctx context.Context, req SetUserRequest) (UserLine, error) {
	u, err := a.DB.UserByEmail(req.Email)
	if err != nil {
		return UserLine{}, err
	}
	if req.Package != nil && !a.Packages.Has(*req.Package) {
		return UserLine{}, unknownPackage(*req.Package)
	}
	for _, v := range []*int64{req.Storage, req.Receive} {
		if v != nil && *v < 0 && *v != FromPackage {
			return UserLine{}, ferry.Errorf(ferry.EBADREQUEST, "A size must not be negative.")
		}
	}
	if req.Password != nil {
		if err := a.DB.SetPassword(ctx, u.ID, *req.Password); err != nil {
			return UserLine{}, err
		}
	}
	if req.ResetTwoFactor {
		if err := a.DB.ResetTwoFactor(ctx, u.ID); err != nil {
			return UserLine{}, err
		}
	}
	override := func(v *int64) *int64 {
		if *v == FromPackage {
			return nil
		}
		n := *v
		return &n
	}
	u, err = a.DB.UpdateUser(ctx, u.ID, func(u *ferry.User) error {
		if req.Package != nil {
			u.Package = *req.Package
		}
		if req.Storage != nil {
			u.StorageOverride = override(req.Storage)
		}
		if req.Receive != nil {
			u.ReceiveOverride = override(req.Receive)
		}
		if req.Disabled != nil {
			u.Disabled = *req.Disabled
		}
		if req.Admin != nil {
			u.Admin = *req.Admin
		}
		return nil
	})
	if err != nil {
		return UserLine{}, err
	}
	usage, err := a.DB.Usage(u.ID)
	if err != nil {
		return UserLine{}, err
	}
	return a.line(u, usage), nil
}

// ListUsers implements Admin.
func (a *LocalAdmin) ListUsers() ([]UserLine, error) {
	users, err := a.DB.ListUsers()
	if err != nil {
		return nil, err
	}
	lines := make([]UserLine, len(users))
	for i, u := range users {
		lines[i] = a.line(u.User, u.Usage)
	}
	return lines, nil
}

// ListMail implements Admin.
func (a *LocalAdmin) ListMail() ([]ferry.QueuedMail, error) {
	return a.DB.ListMail()
}

// Fsck implements Admin.
func (a *LocalAdmin) Fsck(req FsckRequest) (FsckReport, error) {
	var rep FsckReport
	var err error
	if req.Repair {
		if rep.Fixes, err = a.DB.Repair(); err != nil {
			return rep, err
		}
	}
	found, err := a.DB.Fsck(req.Quick)
	rep.Problems, rep.Debris = found.Problems, found.Debris
	return rep, err
}

// Backup implements Admin.
func (a *LocalAdmin) Backup(w io.Writer) error {
	return a.DB.Backup(w)
}

func (a *LocalAdmin) line(u *ferry.User, usage ferry.Usage) UserLine {
	limits := a.Packages.For(u)
	return UserLine{
		ID:        u.ID,
		Email:     u.Email,
		Package:   u.Package,
		Disabled:  u.Disabled,
		TwoFactor: u.TwoFactor,
		Admin:     u.Admin,
		Used:      usage.Normal,
		Storage:   limits.Storage,
		Received:  quota.ReceivedThisMonth(usage, a.Now()),
		Receive:   limits.ReceivePerMonth,
	}
}

func unknownPackage(name string) error {
	return ferry.Errorf(ferry.EBADREQUEST, "No package is named %q (see [packages.NAME] in the config).", name)
}

// OpenAdmin returns an Admin for the data directory of cfg: a client of the
// running server's admin socket when one answers, else a LocalAdmin on the
// store, opened here. Close the returned io.Closer when done.
func OpenAdmin(cfg Config) (Admin, io.Closer, error) {
	path := adminSocketPath(cfg.DataDir)
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		c := newAdminClient(path)
		return c, c, nil
	}
	db, err := store.Open(cfg.DataDir, store.Options{LockTimeout: 2 * time.Second, S3: cfg.StoreS3(),
		TokenPrefix: tokenPrefix(cfg), Node: cfg.Cluster.Node})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("%w, and no admin socket answers at %s", err, path)
	} else if err != nil {
		return nil, nil, err
	}
	admin := &LocalAdmin{DB: db, Packages: cfg.QuotaPackages(), Now: time.Now}
	if cfg.Cluster.Node == "" {
		return admin, db, nil
	}
	// In cluster mode an account is claimed in the directory, served or not.
	dir, err := cluster.OpenDirectory(cfg.clusterConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	admin.Claims = &claims{dir}
	return admin, closers{db, dir}, nil
}

// closers closes each, in order.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

var _ Admin = (*adminClient)(nil)

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/ferryhq/ferry"
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
}

// UserLine is a user as `ferry user list` shows them. Storage and Receive
// are the limits in force (0 = unlimited); Received counts this month only.
type UserLine struct {
	ID       uint64 `json:"id"`
	Email    string `json:"email"`
	Package  string `json:"package"`
	Disabled bool   `json:"disabled"`
	Used     int64  `json:"used"`
	Storage  int64  `json:"storage"`
	Received int64  `json:"received"`
	Receive  int64  `json:"receive"`
}

// String is the line `ferry user list` prints: email, package, used/quota,
// received/receive quota, and "disabled" when it is.
func (l UserLine) String() string {
	s := fmt.Sprintf("%s\t%s\t%s/%s\t%s/%s", l.Email, l.Package,
		quota.FormatSize(l.Used), limitText(l.Storage), quota.FormatSize(l.Received), limitText(l.Receive))
	if l.Disabled {
		s += "\tdisabled"
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
	u, err := a.DB.CreateUser(context.Background(), ferry.NewUser{Email: req.Email, Password: req.Password, FullName: req.Name, Package: req.Package})
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// DeleteUser implements Admin: as POST /account/delete, without the
// password; USER_NOT_FOUND for an unknown email.
func (a *LocalAdmin) DeleteUser(email string) error {
	u, err := a.DB.UserByEmail(email)
	if err != nil {
		return err
	}
	return a.DB.DeleteUser(context.Background(), u.ID)
}

// SetUser implements Admin. It returns USER_NOT_FOUND for an unknown email
// and METHOD_BAD_REQUEST for an unknown package or a negative size.
func (a *LocalAdmin) SetUser(req SetUserRequest) (UserLine, error) {
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
		if err := a.DB.SetPassword(context.Background(), u.ID, *req.Password); err != nil {
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
	u, err = a.DB.UpdateUser(u.ID, func(u *ferry.User) error {
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
		ID:       u.ID,
		Email:    u.Email,
		Package:  u.Package,
		Disabled: u.Disabled,
		Used:     usage.Normal,
		Storage:  limits.Storage,
		Received: quota.ReceivedThisMonth(usage, a.Now()),
		Receive:  limits.ReceivePerMonth,
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
	db, err := store.Open(cfg.DataDir, store.Options{LockTimeout: 2 * time.Second, S3: cfg.StoreS3()})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("%w, and no admin socket answers at %s", err, path)
	} else if err != nil {
		return nil, nil, err
	}
	return &LocalAdmin{DB: db, Packages: cfg.QuotaPackages(), Now: time.Now}, db, nil
}

// listenAdmin opens the admin socket in dataDir, readable by the owner only.
// A socket path too long for the system is logged and skipped: the admin
// commands then work only while ferry serve is stopped.
func listenAdmin(dataDir string, log *slog.Logger) (net.Listener, error) {
	path := adminSocketPath(dataDir)
	if len(path) > 100 {
		log.Warn("data_dir is too long a path for the admin socket; `ferry user` commands will work only while ferry serve is stopped", "path", path)
		return nil, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// adminHandler serves an Admin on the admin socket: POST /user/add,
// POST /user/set, GET /user/list, JSON in and out; errors as the API's.
func adminHandler(a Admin, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			log.Info("admin command failed", "err", err)
			status := http.StatusBadRequest
			if ferry.ErrorCode(err) == ferry.EUNKNOWN {
				status = http.StatusInternalServerError
			}
			w.WriteHeader(status)
			// The socket is the admin's own: they see the real message.
			json.NewEncoder(w).Encode(adminError{Code: ferry.ErrorCode(err), Message: adminMessage(err)})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /user/add", func(w http.ResponseWriter, r *http.Request) {
		var req AddUserRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "bad request: %v", err))
			return
		}
		id, err := a.AddUser(req)
		if err == nil {
			log.Info("admin: user added", "user", id, "email", req.Email)
		}
		answer(w, map[string]uint64{"id": id}, err)
	})
	mux.HandleFunc("POST /user/set", func(w http.ResponseWriter, r *http.Request) {
		var req SetUserRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "bad request: %v", err))
			return
		}
		line, err := a.SetUser(req)
		if err == nil {
			log.Info("admin: user changed", "user", line.ID, "email", line.Email)
		}
		answer(w, line, err)
	})
	mux.HandleFunc("POST /user/delete", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Email string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "bad request: %v", err))
			return
		}
		err := a.DeleteUser(req.Email)
		if err == nil {
			log.Info("admin: user deleted", "email", req.Email)
		}
		answer(w, struct{}{}, err)
	})
	mux.HandleFunc("GET /user/list", func(w http.ResponseWriter, r *http.Request) {
		lines, err := a.ListUsers()
		answer(w, lines, err)
	})
	// Profiles, for the owner of the data directory only:
	//   curl --unix-socket DATA/admin.sock http://ferry/debug/pprof/profile?seconds=10
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /fsck", func(w http.ResponseWriter, r *http.Request) {
		var req FsckRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "bad request: %v", err))
			return
		}
		rep, err := a.Fsck(req)
		answer(w, rep, err)
	})
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		if err := a.Backup(w); err != nil {
			// The status is sent; cutting the stream short tells the client.
			log.Error("backup failed", "err", err)
			panic(http.ErrAbortHandler)
		}
	})
	mux.HandleFunc("GET /mail/list", func(w http.ResponseWriter, r *http.Request) {
		list, err := a.ListMail()
		answer(w, list, err)
	})
	return mux
}

type adminError struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func adminMessage(err error) string {
	if ferry.ErrorCode(err) == ferry.EUNKNOWN {
		return err.Error()
	}
	return ferry.ErrorMessage(err)
}

// adminClient is an Admin that asks a running server over its socket.
type adminClient struct {
	http *http.Client
}

func newAdminClient(path string) *adminClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &adminClient{http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

var _ Admin = (*adminClient)(nil)

func (c *adminClient) AddUser(req AddUserRequest) (uint64, error) {
	var out struct{ ID uint64 }
	err := c.call(http.MethodPost, "/user/add", req, &out)
	return out.ID, err
}

func (c *adminClient) SetUser(req SetUserRequest) (UserLine, error) {
	var out UserLine
	err := c.call(http.MethodPost, "/user/set", req, &out)
	return out, err
}

func (c *adminClient) DeleteUser(email string) error {
	return c.call(http.MethodPost, "/user/delete", struct{ Email string }{email}, &struct{}{})
}

func (c *adminClient) ListUsers() ([]UserLine, error) {
	var out []UserLine
	err := c.call(http.MethodGet, "/user/list", nil, &out)
	return out, err
}

func (c *adminClient) ListMail() ([]ferry.QueuedMail, error) {
	var out []ferry.QueuedMail
	err := c.call(http.MethodGet, "/mail/list", nil, &out)
	return out, err
}

func (c *adminClient) Fsck(req FsckRequest) (FsckReport, error) {
	var out FsckReport
	err := c.call(http.MethodPost, "/fsck", req, &out)
	return out, err
}

func (c *adminClient) Backup(w io.Writer) error {
	resp, err := c.http.Get("http://ferry-admin/backup")
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("backup: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup cut short: %w", err)
	}
	return nil
}

// Close releases the client's idle connections.
func (c *adminClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

func (c *adminClient) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://ferry-admin"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e adminError
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			return fmt.Errorf("admin socket: status %s", resp.Status)
		}
		if e.Code == ferry.EUNKNOWN {
			return errors.New(e.Message)
		}
		return &ferry.Error{Code: e.Code, Message: e.Message}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

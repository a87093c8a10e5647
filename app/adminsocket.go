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
)

// The admin socket: data_dir/admin.sock, which ferry serve listens on so
// that the admin commands act through the running server (one process owns
// the store), and its client, which OpenAdmin returns while a server runs.

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
	mux.HandleFunc("POST /audit/export", func(w http.ResponseWriter, r *http.Request) {
		var req AuditExport
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "bad request: %v", err))
			return
		}
		if req.Format != "" && req.Format != "jsonl" && req.Format != "csv" {
			answer(w, nil, ferry.Errorf(ferry.EBADREQUEST, "--format must be jsonl or csv, not %q.", req.Format))
			return
		}
		if err := a.ExportAudit(req, w); err != nil {
			log.Error("audit export failed", "err", err)
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

// ExportAudit asks the server to write the audit log's events.
func (c *adminClient) ExportAudit(req AuditExport, w io.Writer) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := c.http.Post("http://ferry-admin/audit/export", "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e adminError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Message != "" {
			return ferry.Errorf(e.Code, "%s", e.Message)
		}
		return fmt.Errorf("audit export: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("audit export cut short: %w", err)
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

// Package app wires ferry together: Config -> store, server, admin socket.
// cmd/ferry and the black-box tests both use it, so the tests run what ships.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/cluster"
	"github.com/ferryhq/ferry/dav"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/mailer"
	"github.com/ferryhq/ferry/mailtext"
	"github.com/ferryhq/ferry/server"
	"github.com/ferryhq/ferry/store"
	"github.com/ferryhq/ferry/web"
)

// Options are what the config file does not say: the clock and the logger.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives every log line; a text or JSON logger on stderr as
	// the config's log section says when nil.
	Logger *slog.Logger
	// SweepEvery is how often expired tokens, uploads, links and sends are
	// swept; a minute when zero.
	SweepEvery time.Duration
	// SMTPTLS is the TLS configuration for smtp.tls = tls or starttls;
	// nil verifies smtp.host against the system's roots.
	SMTPTLS *tls.Config
}

// App is a running ferry: the store, the HTTP listener and the admin socket.
type App struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	sweepEvery time.Duration
	db         *store.DB
	mail       *mailer.Mailer
	logs       *logWriter // the buffered log output, when the App made its logger
	ln         net.Listener
	admin      net.Listener
	http       *http.Server
	metricsLn  net.Listener // metrics_listen's, when set
	metrics    http.Handler
	cluster    *cluster.Cluster // in cluster mode
	moving     sync.Map         // emails being moved away by this process (app/move.go)
	pages      *web.App
	claims     *claims       // its directory, for account creation and deletion
	wake       chan struct{} // the outbox's deliverer has an envelope to post
	internalLn net.Listener  // cluster.addr's: the other nodes forward here
	internal   *http.Server
}

// New opens the store and the listeners. Run serves on them; on any error
// New has closed what it opened.
func New(cfg Config, opts Options) (_ *App, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = time.Minute
	}
	var logs *logWriter
	if opts.Logger == nil {
		logs = newLogWriter(os.Stderr, 100*time.Millisecond)
		opts.Logger = NewLogger(cfg, logs)
	}
	a := &App{logs: logs, cfg: cfg, log: opts.Logger, now: opts.Now, sweepEvery: opts.SweepEvery}
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	m := newMetrics()
	// The texts take public_url as it is once the listener has its port
	// (below); the store makes no mail before the first request.
	texts := mailtext.Texts{PublicURL: cfg.PublicURL, Signup: cfg.Auth.Signup,
		InviteExpireIn: time.Duration(cfg.Invite.ExpireAfter), ResetLife: time.Hour} // a reset link works an hour
	a.db, err = store.Open(cfg.DataDir, store.Options{
		DownloadNotice: func(owner *ferry.User, file string, at time.Time, ip string) ferry.Mail {
			return texts.DownloadNotice(owner, file, at, ip)
		},
		DecisionNotice: func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
			return texts.DecisionNotice(sender, outcomes)
		},
		ObserveCommit: m.observeCommit,
		// Mail is queued only by requests, which come after a.mail is set.
		MailQueued:        func() { a.mail.Wake() },
		Now:               opts.Now,
		LockTimeout:       5 * time.Second, // room for an admin command that holds the store
		TokenIdleTimeout:  time.Duration(cfg.Auth.TokenIdleTimeout),
		UploadIdleTimeout: time.Duration(cfg.Uploads.IdleTimeout),
		UploadCheckpoint:  int64(cfg.Uploads.Checkpoint),
		MinFreeSpace:      int64(cfg.MinFreeSpace),
		S3:                cfg.StoreS3(),
		Packages:          cfg.QuotaPackages(),
		MaxFileSize:       int64(cfg.MaxFileSize),
		Send:              ferry.SendLimits{MaxFiles: cfg.Send.MaxFiles, MaxPending: cfg.Send.MaxPending},
		Invite:            ferry.InviteLimits{PerDay: cfg.Invite.PerDay, ExpireIn: time.Duration(cfg.Invite.ExpireAfter)},
		KeepMail:          time.Duration(cfg.SMTP.KeepSent),
		KeepHistory:       keepHistory(cfg.Send.KeepHistory),
		KeepAudit:         time.Duration(cfg.Audit.Keep),
		Scan:              cfg.scanPolicy(m.scans),
		TokenPrefix:       tokenPrefix(cfg),
		Node:              cfg.Cluster.Node,
		Logger:            a.log,
	})
	if err != nil {
		return nil, err
	}
	// The store as the front ends use it: in cluster mode, accounts are
	// claimed in the directory (app/cluster.go).
	var st server.Store = a.db
	var cl *claims
	if cfg.Cluster.Node != "" {
		if a.internalLn, err = net.Listen("tcp", cfg.Cluster.Addr); err != nil {
			return nil, fmt.Errorf("cluster.addr: %w", err)
		}
		if _, port, _ := net.SplitHostPort(cfg.Cluster.Addr); port == "0" && cfg.Cluster.Advertise == "" {
			cfg.Cluster.Advertise = a.internalLn.Addr().String() // (a port of the system's choice: the others are told which)
		}
		if a.cluster, err = joinCluster(cfg, a.log); err != nil {
			a.internalLn.Close()
			return nil, err
		}
		cl = &claims{a.cluster}
		if _, err := a.db.MovesOut(); err != nil { // (frozen until resolved: app/move.go)
			return nil, err
		}
		a.wake = make(chan struct{}, 1)
		st = clusterStore{DB: a.db, claims: *cl, wake: a.wakeDeliverer, nameOf: a.nameOf, forgotAt: a.forgotAt}
	}
	a.claims = cl
	a.mail = mailer.New(mailer.Config{
		Host:         cfg.SMTP.Host,
		Port:         cfg.SMTP.Port,
		TLS:          cfg.SMTP.TLS,
		Username:     cfg.SMTP.Username,
		Password:     cfg.SMTP.Password,
		From:         cfg.SMTP.From,
		FromName:     cfg.SMTP.FromName,
		Timeout:      time.Duration(cfg.SMTP.Timeout),
		RetryInitial: time.Duration(cfg.SMTP.RetryInitial),
		RetryMax:     time.Duration(cfg.SMTP.RetryMax),
		MaxAttempts:  cfg.SMTP.MaxAttempts,
		TLSConfig:    opts.SMTPTLS,
	}, a.db, a.log)
	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg.PublicURL == "http://"+cfg.Listen && strings.HasSuffix(cfg.Listen, ":0") {
		// Derived from a listen address with port 0: name the real port,
		// with the host as written (localhost stays a name).
		host, _, _ := net.SplitHostPort(cfg.Listen)
		_, port, _ := net.SplitHostPort(a.ln.Addr().String())
		cfg.PublicURL = "http://" + a.ln.Addr().String()
		if host != "" {
			cfg.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
		a.cfg.PublicURL = cfg.PublicURL
		texts.PublicURL = cfg.PublicURL
	}
	// The store's lock is ours, so a socket file left here is stale.
	if a.admin, err = listenAdmin(cfg.DataDir, a.log); err != nil {
		return nil, err
	}
	m.watch(a.db, a.mail)
	a.metrics = m.handler()
	if cfg.MetricsListen != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("metrics_listen: %w", err)
		}
	}
	proxies, err := cfg.proxyPrefixes()
	if err != nil {
		return nil, err
	}
	// One guard of failed logins and reset requests for every front end.
	guard := front.NewGuard(cfg.Auth.LoginFailureBurst, time.Duration(cfg.Auth.LoginFailureRefill), proxies, opts.Now)
	guard.FailedLogin = m.failedLogins.Inc
	outsiders := front.NewOutsiders(guard, cfg.outsiderLimits())
	guard.Failed = func(r *http.Request, email string) {
		if err := a.db.LoginFailed(r.Context(), email); err != nil {
			a.log.ErrorContext(r.Context(), "audit: a failed login", "err", err)
		}
	}
	// The API, WebDAV and the web app, side by side on the root services
	// (frontEnds), under one request middleware.
	// In cluster mode, a passkey of another node's account signs in
	// through any node (app/cluster.go).
	var passkeyFind func(context.Context, []byte) (*web.RemotePasskeyUser, error)
	var passkeySignIn func(context.Context, *web.RemotePasskeyUser, []byte, uint32, string) (string, error)
	if a.cluster != nil {
		passkeyFind, passkeySignIn = a.passkeyElsewhere, a.passkeySignInFrom
	}
	pages := web.New(web.Config{
		PublicURL: cfg.PublicURL, Signup: cfg.Auth.Signup,
		LinkMaxExpiry: time.Duration(cfg.Links.MaxExpiry), SendExpireAfter: time.Duration(cfg.Send.ExpireAfter),
		MaxRequestBody: int64(cfg.MaxRequestBody), UploadRequestMax: int64(cfg.Web.UploadRequestMax),
		BlobRedirect: cfg.Blobs.Redirect, Require2FA: cfg.Auth.Require2FA,
		SSO: ssoClient(cfg, opts.Now), SSOName: cfg.OIDC.Name, SSOAutoCreate: cfg.OIDC.AutoCreate, SSOElsewhere: a.ssoElsewhereFunc(),
		IDPrefix: tokenPrefix(cfg), PasskeyElsewhere: passkeyFind, PasskeySignIn: passkeySignIn,
		Admin: a.adminService(), AuditKeep: time.Duration(cfg.Audit.Keep),
		PackageOf: func(claim []string) string { return packageNamed(cfg.Packages, claim) },
		Users:     st, Files: st, Uploads: st, Dav: st, Messages: st, Social: st, Requests: st,
		Mail: texts, Guard: guard, Outsiders: outsiders, Log: front.WithRequestIDs(a.log), Now: opts.Now,
	})
	a.pages = pages
	davHandler := dav.New(dav.Config{
		Dav: st, Files: st, Guard: guard, MaxRequestBody: int64(cfg.MaxRequestBody),
		Require2FA: cfg.Auth.Require2FA, Page: pages.DavPage, Log: front.WithRequestIDs(a.log),
	})
	api := server.New(server.Config{
		Admin:             a.adminService(),
		PublicURL:         cfg.PublicURL,
		BlobRedirect:      cfg.Blobs.Redirect,
		Signup:            cfg.Auth.Signup,
		Require2FA:        cfg.Auth.Require2FA,
		MaxRequestBody:    int64(cfg.MaxRequestBody),
		Guard:             guard,
		Outsiders:         outsiders,
		LinkDefaultExpiry: time.Duration(cfg.Links.DefaultExpiry),
		LinkMaxExpiry:     time.Duration(cfg.Links.MaxExpiry),
		SendMaxEntries:    cfg.Send.MaxEntries,
		Mail:              texts,
		Metrics:           m.handler(),
		MetricsToken:      cfg.Metrics.Token,
		Tracker:           cfg.Slice.Tracker,
	}, st, a.log, opts.Now)
	requests := front.Requests{Log: a.log, Guard: guard, BodyIdleTimeout: time.Duration(cfg.BodyIdleTimeout), Observe: m.observe}
	handler := requests.Handler(frontEnds{api: api, dav: davHandler, pages: pages})
	if a.cluster != nil {
		apply := func(ctx context.Context, e store.Envelope) error {
			defer a.wakeDeliverer() // (a send for no account here is declined back)
			arrived, err := a.db.Apply(ctx, e, func(receiver *ferry.User, name, email string, dests []string, total int64) ferry.Mail {
				return texts.SendNotice(&ferry.User{FullName: name, Email: email}, receiver, dests, total)
			}, texts.ContactNotice)
			if err != nil || arrived == nil {
				return err
			}
			// accept_all: accepted at once if the quotas allow, else it
			// waits in the inbox, as a send on one node does.
			if _, err := a.db.UpdateInbox(ctx, arrived.Receiver, []ferry.Decision{{ID: arrived.Message, Accept: true}}); err != nil {
				a.log.Warn("cluster: accepting a send for an account that accepts all", "err", err)
			}
			return nil
		}
		rt := newRouter(a.cluster, a.db, handler, m.forwarded)
		local := adminService{a.localAdmin()}
		calls := internalCalls{apply: apply, moveOut: a.moveOut, moveIn: a.moveIn, name: a.name, sso: a.ssoTicket,
			adminList: local.list, adminChange: local.adminChange, passkeyFind: a.passkeyFind, passkeySignIn: a.passkeySignIn,
			forgot: func(ctx context.Context, email string) error {
				return a.db.ForgotPassword(ctx, email, texts.ResetLife, texts.Reset)
			}}
		a.internal = &http.Server{Handler: internal(cfg.Cluster.Secret, cfg.Cluster.Node, rt, calls), ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		handler = rt
	}
	a.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// Addr is the address the API listens on (useful with port 0).
func (a *App) Addr() string {
	return a.ln.Addr().String()
}

// PublicURL is the URL users reach the service at.
func (a *App) PublicURL() string {
	return a.cfg.PublicURL
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, lets requests in flight finish for up to shutdown_timeout,
// closes the store and returns nil. It returns an error only if serving
// failed.
func (a *App) Run(ctx context.Context) error {
	if a.metricsLn != nil {
		a.log.Info("metrics served", "addr", a.metricsLn.Addr().String())
	}
	a.log.Info("ferry serving", "addr", a.Addr(), "public_url", a.cfg.PublicURL, "data_dir", a.cfg.DataDir)
	errc := make(chan error, 4) // the API, the internal listener, the admin socket, metrics
	go func() { errc <- a.http.Serve(a.ln) }()
	if a.internal != nil {
		go func() { errc <- a.internal.Serve(a.internalLn) }()
	}
	adminSrv := &http.Server{Handler: adminHandler(a.localAdmin(), a.log), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	if a.admin != nil {
		go func() { errc <- adminSrv.Serve(a.admin) }()
	}
	// metrics_listen serves /metrics alone, without the token: an address
	// only the monitoring reaches.
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", a.metrics)
	metricsSrv := &http.Server{Handler: metricsMux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	if a.metricsLn != nil {
		go func() { errc <- metricsSrv.Serve(a.metricsLn) }()
	}
	sweepDone, mailDone := make(chan struct{}), make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	go func() { defer close(sweepDone); a.sweep(sweepCtx) }()
	go func() { defer close(mailDone); a.mail.Run(sweepCtx) }()
	deliverDone := make(chan struct{})
	go func() {
		defer close(deliverDone)
		if a.cluster != nil {
			a.deliver(sweepCtx)
		}
	}()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		a.log.Error("serving failed", "err", serveErr)
	}
	a.log.Info("shutting down", "timeout", time.Duration(a.cfg.ShutdownTimeout))
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(a.cfg.ShutdownTimeout))
	defer cancel()
	if err := a.http.Shutdown(shutCtx); err != nil {
		a.log.Warn("requests still in flight at the shutdown timeout were cut off", "err", err)
		a.http.Close()
	}
	if a.internal != nil {
		if err := a.internal.Shutdown(shutCtx); err != nil {
			a.internal.Close()
		}
	}
	if err := adminSrv.Shutdown(shutCtx); err != nil {
		adminSrv.Close()
	}
	if err := metricsSrv.Shutdown(shutCtx); err != nil {
		metricsSrv.Close()
	}
	stopSweep()
	<-sweepDone
	<-mailDone
	<-deliverDone
	if err := a.closeAll(); err != nil {
		return err
	}
	a.log.Info("ferry stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// closeAll closes whatever is open; the store last, once nothing uses it,
// then the log output.
func (a *App) closeAll() error {
	if a.logs != nil {
		defer a.logs.Close()
	}
	if a.ln != nil {
		a.ln.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	if a.internalLn != nil {
		a.internalLn.Close()
	}
	if a.cluster != nil {
		if err := a.cluster.Close(); err != nil {
			a.log.Warn("cluster: leaving", "err", err)
		}
	}
	if a.admin != nil {
		a.admin.Close()
		os.Remove(adminSocketPath(a.cfg.DataDir))
	}
	if a.db != nil {
		return a.db.Close()
	}
	return nil
}

// sweep removes what a crash may have left (blobs no record refers to)
// once, and again every blobs.orphan_grace when blobs are in S3 (where an
// orphan left by another process becomes removable only then); and every
// SweepEvery what has expired: tokens, uploads (with their bytes),
// download links and sends, until ctx is done.
func (a *App) sweep(ctx context.Context) {
	orphans := func() {
		if n, err := a.db.RemoveOrphanBlobs(); err != nil {
			a.log.Error("removing orphan blobs", "err", err)
		} else if n > 0 {
			a.log.Info("removed blobs no record referred to", "count", n)
		}
	}
	orphans()
	lastOrphans := time.Now()
	t := time.NewTicker(a.sweepEvery)
	defer t.Stop()
	for {
		if grace := time.Duration(a.cfg.Blobs.OrphanGrace); a.cfg.Blobs.Backend == "s3" && time.Since(lastOrphans) >= max(grace, a.sweepEvery) {
			orphans()
			lastOrphans = time.Now()
		}
		for what, del := range map[string]func() (int, error){
			"tokens":       a.db.DeleteExpiredTokens,
			"uploads":      a.db.DeleteExpiredUploads,
			"links":        a.db.DeleteExpiredLinks,
			"resets":       a.db.DeleteExpiredResets,
			"history":      a.db.DeleteOldHistory, // and expired invitations
			"audit":        a.db.DeleteOldEvents,
			"receipts":     a.db.DeleteOldLinkMail,
			"sends":        a.db.ExpireMessages,
			"mail":         a.db.DeleteOldMail,
			"folders":      a.db.Reclaim,                                                 // deleted ones a crash left in the trash
			"deliveries":   func() (int, error) { return a.db.DropStaleDeliveries(ctx) }, // left unfinished a day
			"remote sends": a.db.ExpireRemoteSends,                                       // to another node's users, whose node never answered
			"applied":      a.db.DeleteOldApplied,                                        // envelopes of other nodes, remembered a month
		} {
			if n, err := del(); err != nil {
				a.log.Error("deleting expired "+what, "err", err)
			} else if n > 0 {
				a.log.Debug("deleted expired "+what, "count", n)
			}
		}
		// Content held while clamd was away: scanned again each round.
		if n, err := a.db.Rescan(ctx); err != nil {
			a.log.Error("scanning held content", "err", err)
		} else if n > 0 {
			a.log.Info("scanned held content", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// adminService is the admin console's and the /admin/ calls' service:
// every node's accounts in cluster mode (clusterAdmin).
func (a *App) adminService() ferry.AdminService {
	local := adminService{a.localAdmin()}
	if a.cluster == nil {
		return local
	}
	return clusterAdmin{adminService: local, app: a}
}

func (a *App) localAdmin() *LocalAdmin {
	return &LocalAdmin{DB: a.db, Packages: a.cfg.QuotaPackages(), Now: a.now, Claims: a.claims}
}

// tokenPrefix is what starts every token the store makes: the node's id
// in cluster mode, nothing else.
func tokenPrefix(cfg Config) string {
	if cfg.Cluster.Node == "" {
		return ""
	}
	return cluster.TokenPrefix(cfg.Cluster.Node)
}

// NewLogger returns the logger the config's log section asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Log.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// adminSocketPath is where the admin socket lives: in the data directory,
// which only ferry's user can enter.
func adminSocketPath(dataDir string) string {
	return filepath.Join(dataDir, "admin.sock")
}

// keepHistory is send.keep_history as the store takes it: 0 (keep for
// ever) is negative there, where 0 is its default.
func keepHistory(d Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}

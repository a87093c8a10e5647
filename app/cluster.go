package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/cluster"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/sso"
	"github.com/ferryhq/ferry/store"
	"github.com/ferryhq/ferry/web"
)

// Cluster mode (docs/cluster.md): this node owns the accounts it made,
// in its own bbolt, and the directory in etcd says which node owns each
// email. Every public request goes through route: one of a user of
// another node is forwarded, streaming, to that node's internal listener,
// which serves it as its own. Tokens, codes and keys start with their
// node's id (store.Options.TokenPrefix), so that any node can tell whose
// they are; a request that names no one (a page, a sign-in form) goes by
// the email it gives, or a browser's node cookie, or is served here.

// Headers of a forwarded request, which only the internal listener
// believes, given the shared secret.
const (
	headerSecret = "Ferry-Cluster-Secret"
	headerClient = "Ferry-Client-Addr" // the client's address as the first node saw it
	nodeCookie   = "ferry_node"        // a browser's node, for a sign-in's second step
)

// validateCluster checks [cluster]; nothing when node is empty.
func (c *Config) validateCluster() error {
	cl := c.Cluster
	if cl.Node == "" {
		return nil
	}
	if err := cluster.ValidNode(cl.Node); err != nil {
		return fmt.Errorf("cluster.node: %w", err)
	}
	if _, _, err := net.SplitHostPort(cl.Addr); err != nil {
		return fmt.Errorf("cluster.addr: %q is not host:port", cl.Addr)
	}
	if _, _, err := net.SplitHostPort(cl.Advertise); cl.Advertise != "" && err != nil {
		return fmt.Errorf("cluster.advertise: %q is not host:port", cl.Advertise)
	}
	if len(cl.Etcd) == 0 {
		return errors.New("cluster.etcd: the etcd endpoints are needed with cluster.node")
	}
	if cl.Secret == "" {
		return errors.New("cluster.secret: a secret shared by the nodes is needed with cluster.node")
	}
	if c.Blobs.Backend != "s3" {
		return errors.New("cluster.node: blobs.backend must be \"s3\" in cluster mode (the nodes share no file system)")
	}
	return nil
}

// clusterConfig is [cluster] as the cluster package takes it.
func (c *Config) clusterConfig() cluster.Config {
	addr := c.Cluster.Addr
	if c.Cluster.Advertise != "" {
		addr = c.Cluster.Advertise
	}
	return cluster.Config{Node: c.Cluster.Node, Addr: addr, Endpoints: c.Cluster.Etcd, Secret: c.Cluster.Secret}
}

// claims is the directory as account creation and deletion use it.
type claims struct{ c *cluster.Cluster }

// claim makes this node the owner of email: EMAIL_ALREADY_EXIST when
// another node owns it.
func (cl claims) claim(ctx context.Context, email string) error {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return err
	}
	owner, err := cl.c.Claim(ctx, email)
	if err != nil {
		return err
	}
	if owner != cl.c.Self() {
		return ferry.Errorf(ferry.EEMAILEXISTS, "An account with the email %s exists already.", email)
	}
	return nil
}

// made releases email's claim when its account was not made after all
// (any failure but the account being there already).
func (cl claims) made(ctx context.Context, email string, err error) {
	if err != nil && ferry.ErrorCode(err) != ferry.EEMAILEXISTS {
		if e, nerr := ferry.NormalizeEmail(email); nerr == nil {
			_ = cl.c.Release(ctx, e)
		}
	}
}

// clusterStore is the store as the front ends use it in cluster mode:
// an account is claimed in the directory before it is made, and released
// when it is deleted.
type clusterStore struct {
	*store.DB
	claims claims
	wake   func() // the outbox's deliverer: an envelope waits
	// nameOf asks node for the full name of its account email:
	// USER_NOT_FOUND when it has none (or a disabled one).
	nameOf func(ctx context.Context, node, email string) (string, error)
	// forgotAt has node mail a password reset link to its account email
	// (an administrator's button on another node).
	forgotAt func(ctx context.Context, node, email string) error
}

// ForgotPassword makes and mails the reset link of another node's account
// there (its code names that node), and of this node's here.
func (s clusterStore) ForgotPassword(ctx context.Context, email string, life time.Duration, mail func(u *ferry.User, code string) ferry.Mail) error {
	if e, err := ferry.NormalizeEmail(email); err == nil {
		if owner, err := s.owner(ctx, e); err == nil && owner != s.claims.c.Self() {
			return s.forgotAt(ctx, owner, e)
		}
	}
	return s.DB.ForgotPassword(ctx, email, life, mail)
}

func (s clusterStore) CreateUser(ctx context.Context, nu ferry.NewUser) (*ferry.User, error) {
	return claimed(ctx, s.claims, nu.Email, func() (*ferry.User, error) { return s.DB.CreateUser(ctx, nu) })
}

func (s clusterStore) CreateInvitedUser(ctx context.Context, nu ferry.NewUser, code string) (*ferry.User, error) {
	return claimed(ctx, s.claims, nu.Email, func() (*ferry.User, error) { return s.DB.CreateInvitedUser(ctx, nu, code) })
}

func (s clusterStore) CreateSSOUser(ctx context.Context, nu ferry.NewUser, l ferry.SSOLink) (*ferry.User, error) {
	return claimed(ctx, s.claims, nu.Email, func() (*ferry.User, error) { return s.DB.CreateSSOUser(ctx, nu, l) })
}

// claimed makes an account of email by create, claimed in the directory
// first and released if it was not made after all.
func claimed[T any](ctx context.Context, cl claims, email string, create func() (T, error)) (T, error) {
	if err := cl.claim(ctx, email); err != nil {
		var zero T
		return zero, err
	}
	v, err := create()
	cl.made(ctx, email, err)
	return v, err
}

// Send sends to another node's user through the outbox (store/remote.go),
// and to this node's as on one node. A send to an account being moved
// waits for the move, and goes to its new node.
func (s clusterStore) Send(ctx context.Context, senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	return untilMoved(ctx, func() ([]uint64, error) {
		if email, err := ferry.NormalizeEmail(to); err == nil {
			owner, err := s.owner(ctx, email)
			switch {
			case err == nil && owner != s.claims.c.Self():
				ids, err := s.DB.SendRemote(ctx, senderID, email, s.claims.c.Self(), owner, sources)
				s.wake()
				return ids, err
			case err != nil && !errors.Is(err, cluster.ErrNoOwner):
				return nil, err
			}
		}
		return s.DB.Send(ctx, senderID, to, sources, notice)
	})
}

// owner is email's node: the cache's, unless it names this node for an
// account that moved away, when etcd is asked.
func (s clusterStore) owner(ctx context.Context, email string) (string, error) {
	owner, err := s.claims.c.Owner(ctx, email)
	if err == nil && owner == s.claims.c.Self() && s.DB.MovedUser(email) != "" {
		return s.claims.c.LookUp(ctx, email)
	}
	return owner, err
}

// untilMoved calls f again while the account it is for is being moved
// (ferry.ErrMoving), for as long as a move may freeze it.
func untilMoved[T any](ctx context.Context, f func() (T, error)) (T, error) {
	deadline := time.Now().Add(moveFreeze + 10*time.Second)
	for {
		v, err := f()
		if !errors.Is(err, ferry.ErrMoving) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// AddContacts adds this node's users as on one node, and another node's
// by an envelope to it (store/remotecontact.go), each email's result in
// its place.
func (s clusterStore) AddContacts(ctx context.Context, ownerID uint64, emails []string, notice ferry.ContactNotice) ([]error, error) {
	return untilMoved(ctx, func() ([]error, error) { return s.addContacts(ctx, ownerID, emails, notice) })
}

func (s clusterStore) addContacts(ctx context.Context, ownerID uint64, emails []string, notice ferry.ContactNotice) ([]error, error) {
	results := make([]error, len(emails))
	var local []string
	var at []int
	for i, e := range emails {
		email, err := ferry.NormalizeEmail(e)
		if err == nil {
			owner, err := s.owner(ctx, email)
			switch {
			case err == nil && owner != s.claims.c.Self():
				name, err := s.nameOf(ctx, owner, email)
				if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
					results[i] = ferry.Errorf(ferry.EUSERNOTFOUND, "No user has the email %q.", e)
					continue
				} // (a node that does not answer: added without a name)
				results[i] = s.DB.AddRemoteContact(ctx, ownerID, email, name, s.claims.c.Self(), owner)
				if ferry.ErrorCode(results[i]) == ferry.EUNKNOWN {
					return nil, results[i]
				}
				continue
			case err != nil && !errors.Is(err, cluster.ErrNoOwner):
				return nil, err
			}
		}
		local, at = append(local, e), append(at, i)
	}
	defer s.wake()
	if len(local) == 0 {
		return results, nil
	}
	res, err := s.DB.AddContacts(ctx, ownerID, local, notice)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		results[i] = res[j]
	}
	return results, nil
}

// UpdateInbox decides as on one node; a decision on another node's send
// is an envelope for it.
func (s clusterStore) UpdateInbox(ctx context.Context, receiverID uint64, decisions []ferry.Decision) ([]error, error) {
	res, err := s.DB.UpdateInbox(ctx, receiverID, decisions)
	s.wake()
	return res, err
}

func (s clusterStore) DeleteAccount(ctx context.Context, userID uint64, password string) error {
	u, err := s.DB.UserByID(userID)
	if err != nil {
		return err
	}
	if err := s.DB.DeleteAccount(ctx, userID, password); err != nil {
		return err
	}
	return s.claims.c.Release(ctx, u.Email)
}

// router sends each public request to the node that owns its user.
type router struct {
	c         *cluster.Cluster
	db        *store.DB // for the accounts moved away (moved) and the requests under way (serveLocal)
	local     http.Handler
	secret    string
	forwarded *prometheus.CounterVec // by the node forwarded to
	transport http.RoundTripper
}

func newRouter(c *cluster.Cluster, db *store.DB, local http.Handler, forwarded *prometheus.CounterVec) *router {
	return &router{c: c, db: db, local: local, secret: c.Secret(), forwarded: forwarded, transport: &http.Transport{
		Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: 0,
	}}
}

// loginPaths are the calls whose body names the account by email.
var loginPaths = map[string]bool{
	"/api/1/auth/token": true, "/api/1/auth/password/forgot": true, "/login": true, "/forgot": true,
}

// signupPaths make an account: placed on a node by its email.
var signupPaths = map[string]bool{"/api/1/auth/register": true, "/signup": true}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/_cluster/"): // the nodes' own calls are never forwarded for a client (here: not found)
		rt.local.ServeHTTP(w, r)
		return
	case p == "/metrics" || p == "/healthz" || strings.HasPrefix(p, "/static/"): // this node's own (a metrics token is no user's)
		rt.local.ServeHTTP(w, r)
		return
	}
	node, err := rt.owner(r)
	if err != nil {
		rt.unavailable(w, r, "The directory of accounts cannot be reached; try again in a moment.")
		return
	}
	if node == "" || node == rt.c.Self() {
		if moved := rt.moved(r); moved != "" {
			rt.forward(w, r, moved)
			return
		}
		pinSSO(w, r, rt.c.Self())
		rt.serveLocal(w, r)
		return
	}
	rt.forward(w, r, node)
}

// serveLocal serves r here, holding its account for its duration: a move
// of that account waits for it (store.Freeze).
func (rt *router) serveLocal(w http.ResponseWriter, r *http.Request) {
	ctx, release := rt.db.WithHolds(r.Context())
	defer release()
	rt.local.ServeHTTP(w, r.WithContext(ctx))
}

// secretPaths start the paths whose next segment is a token of its node:
// links, requests, photos, uploads.
var secretPaths = []string{"/d/", "/r/", "/api/1/r/", "/photos/", "/api/1/upload/chunked/", "/api/1/upload/status/", "/api/1/upload/finalize/", "/uploads/"}

// moved is the node that the account r names by a token of this node
// moved to (store.MovedSecret): "" for none.
func (rt *router) moved(r *http.Request) string {
	for _, pre := range secretPaths {
		if rest, ok := strings.CutPrefix(r.URL.Path, pre); ok {
			tok, _, _ := strings.Cut(rest, "/")
			if n := rt.db.MovedSecret(tok); n != "" {
				return n
			}
		}
	}
	tok := r.Header.Get("token")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok == "" {
		tok = v
	}
	if n := rt.db.MovedSecret(tok); n != "" {
		return n
	}
	for _, name := range []string{"ferry", "__Host-ferry"} {
		if c, err := r.Cookie(name); err == nil {
			if n := rt.db.MovedSecret(c.Value); n != "" {
				return n
			}
		}
	}
	return ""
}

// forward sends r to node's internal listener and its answer back, both
// streamed.
func (rt *router) forward(w http.ResponseWriter, r *http.Request, node string) {
	addr, live := rt.c.Addr(node)
	if !live {
		rt.unavailable(w, r, "The server that keeps this account is not answering; try again in a minute. Other accounts are not affected.")
		return
	}
	rt.forwarded.WithLabelValues(node).Inc()
	client := r.RemoteAddr
	proxy := &httputil.ReverseProxy{
		Transport:     rt.transport,
		FlushInterval: -1, // a download streams as it comes
		Rewrite: func(p *httputil.ProxyRequest) {
			p.SetURL(&url.URL{Scheme: "http", Host: addr})
			p.Out.Host = r.Host
			p.Out.Header.Set(headerSecret, rt.secret)
			p.Out.Header.Set(headerClient, client)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rt.unavailable(w, r, "The server that keeps this account is not answering; try again in a minute. Other accounts are not affected.")
		},
	}
	proxy.ServeHTTP(w, r)
}

// unavailable answers 503 with Retry-After, as the API's error or a page.
func (rt *router) unavailable(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Retry-After", "30")
	if front.WantsPage(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, msg+"\n")
		return
	}
	front.WriteJSON(w, http.StatusServiceUnavailable, front.ErrorBody{Error: ferry.EUNKNOWN, Message: msg})
}

// owner is the node r is for: "" for any (served here).
func (rt *router) owner(r *http.Request) (string, error) {
	p := r.URL.Path
	// A secret in the path names its node: links, requests, photos,
	// uploads.
	for _, pre := range secretPaths {
		if rest, ok := strings.CutPrefix(p, pre); ok {
			tok, _, _ := strings.Cut(rest, "/")
			if n := cluster.NodeOf(tok); n != "" {
				return n, nil
			}
		}
	}
	// A token.
	tok := r.Header.Get("token")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok == "" {
		tok = v
	}
	if n := cluster.NodeOf(tok); n != "" {
		return n, nil
	}
	// WebDAV's Basic auth names the account by its email.
	if user, _, ok := r.BasicAuth(); ok && strings.Contains(user, "@") {
		return rt.ownerOf(r.Context(), user)
	}
	// A code in a form or query: a password reset, an invitation, a
	// sign-in through the provider or a passkey handed to its account's
	// node, a passkey's ceremony waiting in its node's memory.
	for _, field := range []string{"code", "invite", "ticket", "ceremony"} {
		if n := cluster.NodeOf(r.URL.Query().Get(field)); n != "" {
			return n, nil
		}
	}
	// The web app's session.
	for _, name := range []string{"ferry", "__Host-ferry"} {
		if c, err := r.Cookie(name); err == nil {
			if n := cluster.NodeOf(c.Value); n != "" {
				return n, nil
			}
		}
	}
	if r.Method == http.MethodPost && (loginPaths[p] || signupPaths[p] || p == "/api/1/auth/password/reset" || p == "/reset") {
		fields, err := formFields(r)
		if err != nil {
			return "", nil // served here, which answers the bad form
		}
		if n := cluster.NodeOf(fields["code"]); n != "" {
			return n, nil
		}
		if n := cluster.NodeOf(fields["invite"]); n != "" && signupPaths[p] {
			return n, nil // (the invitation's node: the account is made there)
		}
		if email, err := ferry.NormalizeEmail(fields["email"]); err == nil {
			owner, err := rt.ownerOf(r.Context(), email)
			if err != nil || owner != "" || !signupPaths[p] {
				return owner, err
			}
			return rt.c.Place(email), nil
		}
	}
	// A sign-in's second step, which waits in its node's memory.
	if c, err := r.Cookie(nodeCookie); err == nil && cluster.ValidNode(c.Value) == nil {
		if _, live := rt.c.Addr(c.Value); live {
			return c.Value, nil
		}
	}
	return "", nil
}

// ownerOf is email's node, "" for none.
func (rt *router) ownerOf(ctx context.Context, email string) (string, error) {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return "", nil
	}
	owner, err := rt.c.Owner(ctx, email)
	if errors.Is(err, cluster.ErrNoOwner) {
		return "", nil
	}
	return owner, err
}

// maxRoutedForm bounds the form read to find its email.
const maxRoutedForm = 64 << 10

// formFields reads r's small form (urlencoded or JSON) and puts the body
// back for whoever serves it.
func formFields(r *http.Request) (map[string]string, error) {
	if r.ContentLength > maxRoutedForm {
		return nil, errors.New("too large to route")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRoutedForm+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil || len(body) > maxRoutedForm {
		return nil, errors.New("too large to route")
	}
	fields := map[string]string{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					fields[k] = s
				}
			}
		}
	default:
		q, _ := url.ParseQuery(string(body))
		for k := range q {
			fields[k] = q.Get(k)
		}
	}
	return fields, nil
}

// forgotPath is where a node asks another to mail a password reset link
// to one of its accounts.
const forgotPath = "/_cluster/forgot"

// forgotAt has node mail a reset link to its account email.
func (a *App) forgotAt(ctx context.Context, node, email string) error {
	return a.callNode(ctx, node, forgotPath, MoveRequest{Email: email}, nil)
}

// namePath is where a node asks another for the name of one of its
// accounts (a contact added across nodes).
const namePath = "/_cluster/name"

type nameAnswer struct {
	Name string `json:"name"`
}

// nameOf asks node for the full name of its account email.
func (a *App) nameOf(ctx context.Context, node, email string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var out nameAnswer
	err := a.callNode(ctx, node, namePath, MoveRequest{Email: email}, &out)
	return out.Name, err
}

// name is the full name of this node's account email, for another node:
// USER_NOT_FOUND for none or a disabled one.
func (a *App) name(_ context.Context, email string) (string, error) {
	u, err := a.db.UserByEmail(email)
	if err != nil || u.Disabled {
		return "", ferry.Errorf(ferry.EUSERNOTFOUND, "No user has the email %q.", email)
	}
	return u.FullName, nil
}

// applyPath is where a node posts an envelope to another
// (store.Envelope), on the internal listener.
const applyPath = "/_cluster/apply"

// maxEnvelope bounds an envelope's size: a send of 10,000 files is about
// 2 MB.
const maxEnvelope = 32 << 20

// internalCalls are the nodes' own calls on the internal listener.
type internalCalls struct {
	apply   func(context.Context, store.Envelope) error
	moveOut func(context.Context, MoveRequest) (MoveReport, error)
	moveIn  func(context.Context, *store.Move) (map[uint64]uint64, error)
	name    func(context.Context, string) (string, error)
	forgot  func(context.Context, string) error
	sso     func(context.Context, ssoHandoff) (string, error)
	// Passkey sign-ins across nodes.
	passkeyFind   func(context.Context, passkeyCall) (*web.RemotePasskeyUser, error)
	passkeySignIn func(context.Context, passkeyCall) (string, error)
	// The admin console's, across nodes (clusteradmin.go).
	adminList   func() (adminList, error)
	adminChange func(context.Context, adminCall) (ferry.AdminUser, error)
}

// internal is the internal listener's handler: a request that carries the
// secret is served here, from its client's address (or forwarded on, when
// it names an account that moved away), or is another node's own call;
// any other is refused.
func internal(secret, self string, rt *router, calls internalCalls) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(headerSecret)), []byte(secret)) != 1 {
			front.WriteJSON(w, http.StatusForbidden, front.ErrorBody{Error: ferry.EAUTHFAILED, Message: "Only ferry's nodes call this listener."})
			return
		}
		if r.Method == http.MethodPost && r.Header.Get(headerClient) == "" { // (a node's own call, not a client's forwarded)
			switch r.URL.Path {
			case applyPath:
				var e store.Envelope
				if decodeCall(w, r, &e) {
					answerCall(w, struct{}{}, calls.apply(r.Context(), e))
				}
				return
			case movePath:
				var req MoveRequest
				if decodeCall(w, r, &req) {
					report, err := calls.moveOut(r.Context(), req)
					answerCall(w, report, err)
				}
				return
			case forgotPath:
				var req MoveRequest
				if decodeCall(w, r, &req) {
					answerCall(w, struct{}{}, calls.forgot(r.Context(), req.Email))
				}
				return
			case namePath:
				var req MoveRequest
				if decodeCall(w, r, &req) {
					name, err := calls.name(r.Context(), req.Email)
					answerCall(w, nameAnswer{Name: name}, err)
				}
				return
			case passkeyFindPath, passkeySignInPath:
				var c passkeyCall
				if decodeCall(w, r, &c) {
					if r.URL.Path == passkeyFindPath {
						u, err := calls.passkeyFind(r.Context(), c)
						answerCall(w, u, err)
					} else {
						ticket, err := calls.passkeySignIn(r.Context(), c)
						answerCall(w, ssoAnswer{Ticket: ticket}, err)
					}
				}
				return
			case adminUsersPath:
				l, err := calls.adminList()
				answerCall(w, l, err)
				return
			case adminChangePath:
				var c adminCall
				if decodeCall(w, r, &c) {
					u, err := calls.adminChange(r.Context(), c)
					answerCall(w, u, err)
				}
				return
			case ssoPath:
				var h ssoHandoff
				if decodeCall(w, r, &h) {
					ticket, err := calls.sso(r.Context(), h)
					answerCall(w, ssoAnswer{Ticket: ticket}, err)
				}
				return
			case moveInPath:
				var mv store.Move
				if decodeCall(w, r, &mv) {
					ids, err := calls.moveIn(r.Context(), &mv)
					answerCall(w, ids, err)
				}
				return
			}
		}
		r.Header.Del(headerSecret)
		if c := r.Header.Get(headerClient); c != "" {
			r.RemoteAddr = c
		}
		if moved := rt.moved(r); moved != "" && moved != self {
			rt.forward(w, r, moved) // (headerClient set again: the client's)
			return
		}
		r.Header.Del(headerClient)
		r.Header.Del("X-Forwarded-For")
		if r.URL.Path == "/login" {
			// The browser comes back here for the second factor, which
			// waits in this node's memory.
			http.SetCookie(w, &http.Cookie{Name: nodeCookie, Value: self, Path: "/login", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		pinSSO(w, r, self)
		rt.serveLocal(w, r)
	})
}

// decodeCall reads a node's call's JSON body into v, or answers 400.
func decodeCall(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxEnvelope)).Decode(v); err != nil {
		front.WriteJSON(w, http.StatusBadRequest, front.ErrorBody{Error: ferry.EBADREQUEST, Message: "Not a call of ferry's nodes."})
		return false
	}
	return true
}

// answerCall answers a node's call: v, or err (its code, or the error as
// it is: only nodes read this).
func answerCall(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		front.WriteJSON(w, http.StatusOK, v)
	case errors.Is(err, ferry.ErrMoving):
		w.Header().Set("Retry-After", "5")
		front.WriteJSON(w, http.StatusServiceUnavailable, front.ErrorBody{Error: ferry.EUNKNOWN, Message: err.Error()})
	case ferry.ErrorCode(err) != ferry.EUNKNOWN:
		front.WriteJSON(w, http.StatusBadRequest, front.ErrorBody{Error: ferry.ErrorCode(err), Message: ferry.ErrorMessage(err)})
	default:
		front.WriteJSON(w, http.StatusInternalServerError, front.ErrorBody{Error: ferry.EUNKNOWN, Message: err.Error()})
	}
}

// pinSSO brings the provider's answer (/auth/oidc/callback) back to this
// node, where a sign-in or a link through the provider that r starts
// waits in memory.
func pinSSO(w http.ResponseWriter, r *http.Request, self string) {
	if r.URL.Path == "/auth/oidc/start" || r.URL.Path == "/settings/sso/link" {
		http.SetCookie(w, &http.Cookie{Name: nodeCookie, Value: self, Path: "/auth/oidc/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// ssoPath is where a node that verified a sign-in through the provider
// hands it to the node with the account.
const ssoPath = "/_cluster/sso"

// ssoHandoff is a verified sign-in handed to another node.
type ssoHandoff struct {
	Identity sso.Identity `json:"identity"`
	Next     string       `json:"next"`
}

type ssoAnswer struct {
	Ticket string `json:"ticket"`
}

// ssoElsewhereFunc is the web app's SSOElsewhere: nil on one node.
func (a *App) ssoElsewhereFunc() func(context.Context, sso.Identity, string) (string, error) {
	if a.cluster == nil {
		return nil
	}
	return a.ssoElsewhere
}

// ssoElsewhere hands a verified sign-in to the node that owns its email,
// when that is another: the ticket its browser brings there; "" for none.
// The node there signs in the account linked to the identity, as this
// one would (the email only finds the node).
func (a *App) ssoElsewhere(ctx context.Context, id sso.Identity, next string) (string, error) {
	email, err := ferry.NormalizeEmail(id.Email)
	if err != nil {
		return "", nil
	}
	owner, err := a.cluster.Owner(ctx, email)
	if errors.Is(err, cluster.ErrNoOwner) || (err == nil && owner == a.cluster.Self()) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	var out ssoAnswer
	if err := a.callNode(ctx, owner, ssoPath, ssoHandoff{Identity: id, Next: next}, &out); err != nil {
		return "", err
	}
	return out.Ticket, nil
}

// ssoTicket keeps a sign-in another node handed here, under a ticket
// that names this node.
func (a *App) ssoTicket(_ context.Context, h ssoHandoff) (string, error) {
	ticket := cluster.TokenPrefix(a.cluster.Self()) + rand.Text()
	a.pages.PutSSOTicket(ticket, h.Identity, h.Next)
	return ticket, nil
}

// Passkey sign-ins across nodes: the node that began the ceremony (its
// id names the node) verifies the passkey with the account's passkeys,
// which it asks the other nodes for, and the account's node records the
// use and signs it in, from a ticket its browser brings there.
const (
	passkeyFindPath   = "/_cluster/passkey/find"
	passkeySignInPath = "/_cluster/passkey/signin"
)

// passkeyCall is a passkey sign-in's call to another node.
type passkeyCall struct {
	ID        []byte `json:"id"`
	Email     string `json:"email,omitempty"`
	SignCount uint32 `json:"sign_count,omitempty"`
	Next      string `json:"next,omitempty"`
}

// passkeyElsewhere asks the other live nodes, in turn, for the account of
// passkey id: nil when none has it.
func (a *App) passkeyElsewhere(ctx context.Context, id []byte) (*web.RemotePasskeyUser, error) {
	for _, n := range a.cluster.Nodes() {
		if n.ID == a.cluster.Self() {
			continue
		}
		var u web.RemotePasskeyUser
		err := a.callNode(ctx, n.ID, passkeyFindPath, passkeyCall{ID: id}, &u)
		switch {
		case err == nil:
			u.Node = n.ID
			return &u, nil
		case ferry.ErrorCode(err) != ferry.EAUTHFAILED:
			a.log.Warn("cluster: asking a node for a passkey", "node", n.ID, "err", err) // (a node down: the others may have it)
		}
	}
	return nil, nil
}

// passkeyFind is this node's account of passkey id, for another node's
// sign-in: AUTH_FAILED for none.
func (a *App) passkeyFind(ctx context.Context, c passkeyCall) (*web.RemotePasskeyUser, error) {
	u, _, err := a.db.PasskeyOwner(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	keys, err := a.db.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	shown := *u
	shown.PasswordHash = "" // (not needed there)
	return &web.RemotePasskeyUser{User: shown, Passkeys: keys}, nil
}

// passkeySignInFrom has node sign in its account u, whose passkey this
// node verified: the ticket its browser brings there.
func (a *App) passkeySignInFrom(ctx context.Context, u *web.RemotePasskeyUser, id []byte, signCount uint32, next string) (string, error) {
	var out ssoAnswer
	err := a.callNode(ctx, u.Node, passkeySignInPath, passkeyCall{ID: id, Email: u.User.Email, SignCount: signCount, Next: next}, &out)
	return out.Ticket, err
}

// passkeySignIn records the use of one of this node's account's passkeys
// that another node verified, and keeps its sign-in for the browser.
func (a *App) passkeySignIn(ctx context.Context, c passkeyCall) (string, error) {
	u, _, err := a.db.PasskeyOwner(ctx, c.ID)
	if err != nil {
		return "", err
	}
	if u.Email != c.Email || u.Disabled {
		return "", ferry.Errorf(ferry.EAUTHFAILED, "This passkey's account cannot sign in.")
	}
	if err := a.db.UsePasskey(ctx, u.ID, c.ID, c.SignCount); err != nil {
		return "", err
	}
	ticket := cluster.TokenPrefix(a.cluster.Self()) + rand.Text()
	a.pages.PutSignInTicket(ticket, u, c.Next)
	return ticket, nil
}

// ClusterStatus prints `ferry cluster status`: each node that is live or
// owns accounts, its internal address, how many accounts it owns, and
// whether it is live.
func ClusterStatus(ctx context.Context, cfg Config, w io.Writer) error {
	if cfg.Cluster.Node == "" || len(cfg.Cluster.Etcd) == 0 {
		return errors.New("cluster status: the config has no [cluster] node and etcd")
	}
	st, err := cluster.ReadStatus(ctx, cfg.clusterConfig())
	if err != nil {
		return fmt.Errorf("cluster status: etcd: %w", err)
	}
	live := map[string]cluster.Node{}
	ids := map[string]bool{}
	for _, n := range st.Nodes {
		live[n.ID], ids[n.ID] = n, true
	}
	for id := range st.Users {
		ids[id] = true
	}
	fmt.Fprintf(w, "%-20s %-22s %8s %8s  %s\n", "NODE", "ADDRESS", "USERS", "OUTBOX", "STATE")
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		n, up := live[id]
		addr, state := n.Addr, "live since "+n.Started.Format(time.RFC3339)
		if !up {
			addr, state = "-", "down: its users answer 503"
		}
		backlog, parts := 0, []string{}
		for _, to := range slices.Sorted(maps.Keys(n.Backlog)) {
			backlog += n.Backlog[to]
			parts = append(parts, fmt.Sprintf("%d for %s", n.Backlog[to], to))
		}
		if len(parts) > 0 {
			state += " (outbox: " + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintf(w, "%-20s %-22s %8d %8d  %s\n", id, addr, st.Users[id], backlog, state)
	}
	return nil
}

// deliver posts the outbox's envelopes to their nodes until ctx ends, in
// order for each node; one a node does not take is tried again, after a
// pause that doubles up to two seconds, also after a restart (they are in
// the store). A change that queues one wakes it (a.wake); it looks every
// second anyway. Every few seconds it looks at the backlog, and publishes
// it when it changed (and once a minute).
func (a *App) deliver(ctx context.Context) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 8}}
	pause, looked, said, saidAt := 100*time.Millisecond, time.Time{}, map[string]int(nil), time.Time{}
	for ctx.Err() == nil {
		if time.Since(looked) > 5*time.Second {
			a.resolveMoves(ctx) // (those a crash left half done)
			a.checkImports(ctx)
			// Written to etcd when it changed, and once a minute (a node
			// that registered again has a key without it).
			if backlog, err := a.db.Backlog(); err == nil && (!maps.Equal(backlog, said) || time.Since(saidAt) > time.Minute) {
				if err := a.cluster.Publish(ctx, backlog); err != nil && ctx.Err() == nil {
					a.log.Warn("cluster: publishing the outbox's backlog", "err", err)
				} else {
					said, saidAt = backlog, time.Now()
				}
			}
			looked = time.Now()
		}
		list, err := a.db.Envelopes(200)
		if err != nil {
			a.log.Error("cluster: reading the outbox", "err", err)
		}
		failed := map[string]bool{}
		for _, e := range list {
			if failed[e.To] {
				continue // (its order kept: after the one that failed)
			}
			if err := a.callNodeVia(ctx, client, e.To, applyPath, e, nil); err != nil {
				failed[e.To] = true
				a.log.Debug("cluster: an envelope not delivered yet", "to", e.To, "seq", e.Seq, "err", err)
				continue
			}
			if err := a.db.EnvelopeDelivered(ctx, e.Seq); err != nil {
				a.log.Error("cluster: recording an envelope delivered", "err", err)
			}
		}
		switch {
		case len(failed) > 0:
			pause = min(max(pause, 50*time.Millisecond)*2, 2*time.Second)
		case len(list) == 200:
			pause = 0 // more waiting
		default:
			pause = time.Second // (a new envelope wakes it sooner)
		}
		wake := a.wake
		if len(failed) > 0 {
			wake = nil // a node that failed waits out its pause
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(pause):
		}
	}
}

// leaseFile keeps, in the data directory, the lease the node last held,
// so that started again after a kill it takes its id back at once.
const leaseFile = "cluster.lease"

// joinCluster joins as [cluster] says, with the lease of the last run.
func joinCluster(cfg Config, log *slog.Logger) (*cluster.Cluster, error) {
	cc := cfg.clusterConfig()
	path := filepath.Join(cfg.DataDir, leaseFile)
	if b, err := os.ReadFile(path); err == nil {
		cc.LastLease, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	c, err := cluster.Join(cc, log)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	err = os.WriteFile(tmp, []byte(strconv.FormatInt(c.Lease(), 10)+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		log.Warn("cluster: keeping the lease's id", "err", err) // a restart after a kill waits for it to run out
	}
	return c, nil
}

// wakeDeliverer tells the deliverer that an envelope may wait.
func (a *App) wakeDeliverer() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

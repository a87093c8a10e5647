package ferrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/ferryhq/ferry/app"
)

// OIDC is a real OpenID provider for tests: zitadel/oidc's op package
// (OpenID-certified) with its example storage and login page, in memory,
// on a port of its own. The test adds users and clients before Serve; a
// hook may rewrite the token endpoint's answers (to hand ferry a token
// the provider made for another client, or one whose signature broke on
// the way).
type OIDC struct {
	t      testing.TB
	Issuer string
	ln     net.Listener
	users  map[string]*storage.User
	groups map[string][]string

	mu     sync.Mutex
	tamper func(tokenAnswer map[string]any)
}

// OIDCUser is a person of the provider.
type OIDCUser struct {
	ID, Username, Password string
	Email                  string
	EmailVerified          bool
	FirstName, LastName    string
	Groups                 []string // the groups claim
}

// OIDCClient is an application registered with the provider.
type OIDCClient struct {
	ID, Secret, RedirectURI string
}

// NewOIDC listens on a free loopback port, so that the issuer URL is known
// before the provider serves (ferry's configuration needs it first).
func NewOIDC(t testing.TB) *OIDC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return &OIDC{t: t, Issuer: "http://" + ln.Addr().String(), ln: ln, users: map[string]*storage.User{}, groups: map[string][]string{}}
}

// AddUser adds a person; call it before Serve.
func (o *OIDC) AddUser(u OIDCUser) {
	o.users[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, Email: u.Email,
		EmailVerified: u.EmailVerified, FirstName: u.FirstName, LastName: u.LastName, PreferredLanguage: language.English}
	o.groups[u.ID] = u.Groups
}

// Configure points cfg's [oidc] at the provider as client id.
func (o *OIDC) Configure(id, secret string) func(*app.Config) {
	return func(c *app.Config) {
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = o.Issuer, id, secret
		c.OIDC.Name, c.OIDC.PackageClaim = "Example ID", "groups"
	}
}

// Serve registers the clients and starts serving.
func (o *OIDC) Serve(clients ...OIDCClient) {
	registered := map[string]*storage.Client{}
	for _, c := range clients {
		registered[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURI)
	}
	st := groupStorage{Storage: storage.NewStorageWithClients(userStore{o.users}, registered), groups: o.groups}
	router := exampleop.SetupServer(o.Issuer, st, nil, false)
	srv := &httptest.Server{Listener: o.ln, Config: &http.Server{Handler: o.rewrite(router)}}
	srv.Start()
	o.t.Cleanup(srv.Close)
}

// Tamper sets f to rewrite each answer of the token endpoint (nil: none).
func (o *OIDC) Tamper(f func(tokenAnswer map[string]any)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tamper = f
}

func (o *OIDC) rewrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		tamper := o.tamper
		o.mu.Unlock()
		if tamper == nil || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var answer map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
			tamper(answer)
			body, _ = json.Marshal(answer)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		io.Copy(w, bytes.NewReader(body))
	})
}

// userStore is the example storage's UserStore over the test's users.
type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.users[id] }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, user := range u.users {
		if user.Username == name {
			return user
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// groupStorage adds each user's groups claim to their ID token and
// userinfo.
type groupStorage struct {
	*storage.Storage
	groups map[string][]string
}

func (s groupStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.addGroups(info, req.GetSubject())
	return nil
}

func (s groupStorage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(info, info.Subject)
	return nil
}

func (s groupStorage) addGroups(info *zoidc.UserInfo, subject string) {
	if g := s.groups[subject]; len(g) > 0 {
		info.AppendClaims("groups", g)
	}
}

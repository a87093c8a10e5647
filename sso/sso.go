// Package sso signs people in through an OpenID Connect provider: the
// authorization code flow with PKCE (S256), state and nonce, and the ID
// token verified (issuer, audience, expiry, signature with the provider's
// keys). It knows nothing of ferry's accounts: it turns a provider's
// answer into an Identity, which the web app binds to an account.
package sso

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is the provider and ferry's client there.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back:
	// {public_url}/auth/oidc/callback.
	RedirectURL string
	// PackageClaim names a claim whose values may name a package.
	PackageClaim string
	// HTTPClient talks to the provider (its timeouts bound every call).
	HTTPClient *http.Client
	// Now is the clock for the ID token's expiry (time.Now when nil).
	Now func() time.Time
}

// Identity is who the provider says signed in.
type Identity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	Name            string
	// Claim is the values of the package claim, in the provider's order.
	Claim []string
}

// Client is ferry's client of one provider. Discovery happens at the first
// use, and again after a failure, so that ferry starts while the
// provider is down.
type Client struct {
	cfg Config

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns the client of cfg's provider.
func New(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{cfg: cfg}
}

// ErrProvider is what a person is told when the provider cannot be
// reached or answers nonsense.
var ErrProvider = errors.New("the identity provider could not be reached")

func (c *Client) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.cfg.HTTPClient), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", ErrProvider, err)
	}
	c.provider = p
	return p, nil
}

func (c *Client) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: c.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

// Flow is one sign-in under way: what the callback checks the provider's
// answer against.
type Flow struct {
	State, Nonce, Verifier string
}

// Start begins a sign-in: the flow to keep, and the provider's URL to send
// the browser to.
func (c *Client) Start(ctx context.Context) (Flow, string, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return Flow{}, "", err
	}
	f := Flow{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	u := c.oauth2(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return f, u, nil
}

// Finish redeems the code of the callback of flow f (whose state the
// caller matched) and returns who signed in, once the ID token is
// verified and its nonce is f's.
func (c *Client) Finish(ctx context.Context, f Flow, code string) (Identity, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = oidc.ClientContext(ctx, c.cfg.HTTPClient)
	conf := c.oauth2(p)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("redeeming the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, errors.New("the provider answered no ID token")
	}
	verifier := p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, Now: c.cfg.Now})
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("the ID token: %w", err)
	}
	if idt.Nonce != f.Nonce {
		return Identity{}, errors.New("the ID token's nonce is not this sign-in's")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("the ID token's claims: %w", err)
	}
	// What the ID token leaves out (email, name: many providers keep them
	// for userinfo), userinfo says, for the same subject.
	if _, ok := claims["email"]; !ok {
		info, err := p.UserInfo(ctx, conf.TokenSource(ctx, tok))
		if err != nil {
			return Identity{}, fmt.Errorf("%w: userinfo: %w", ErrProvider, err)
		}
		if info.Subject != idt.Subject {
			return Identity{}, errors.New("userinfo names another subject than the ID token")
		}
		more := map[string]any{}
		if err := info.Claims(&more); err != nil {
			return Identity{}, fmt.Errorf("userinfo's claims: %w", err)
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	id.Email, _ = claims["email"].(string)
	id.Name, _ = claims["name"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers send "true"
		id.EmailVerified = v == "true"
	}
	if c.cfg.PackageClaim != "" {
		switch v := claims[c.cfg.PackageClaim].(type) {
		case string:
			id.Claim = []string{v}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					id.Claim = append(id.Claim, s)
				}
			}
		}
	}
	return id, nil
}

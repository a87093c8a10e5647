package app

import (
	"net/http"
	"time"

	"github.com/ferryhq/ferry/sso"
)

// ssoClient is the client of the [oidc] provider, nil without one.
func ssoClient(cfg Config, now func() time.Time) *sso.Client {
	if cfg.OIDC.Issuer == "" {
		return nil
	}
	return sso.New(sso.Config{
		Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret,
		RedirectURL:  cfg.PublicURL + "/auth/oidc/callback",
		PackageClaim: cfg.OIDC.PackageClaim,
		HTTPClient:   &http.Client{Timeout: 10 * time.Second},
		Now:          now,
	})
}

// packageNamed is the first of a provider's claim values that names a
// package, "" for none.
func packageNamed(packages map[string]Package, claim []string) string {
	for _, v := range claim {
		if _, ok := packages[v]; ok {
			return v
		}
	}
	return ""
}

package front

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
)

// Guard bounds what a client may try that costs a password check or a
// mail: failed logins (of the API's token call, the web app's sign-in,
// WebDAV's Basic auth, a link's password, a refused signup) per client
// address and per email, and password reset requests likewise. One Guard
// serves every front end, so that a limit is not multiplied by their
// number.
type Guard struct {
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (config trusted_proxies).
	TrustedProxies []netip.Prefix
	// FailedLogin, when set, is told of each failed login.
	FailedLogin func()
	// Failed, when set, is told of each failed login of an email (for its
	// account's audit log).
	Failed func(r *http.Request, email string)
	Now    func() time.Time

	ipFailures, emailFailures *budget
	resetIP, resetEmail       *budget
}

// NewGuard allows burst failed logins from one address (twice as many for
// one email), and one more every refill (every half of it for an email);
// and 10 reset requests at once from an address, then 10 an hour, 3 for
// an email, then 3 an hour.
func NewGuard(burst int, refill time.Duration, trusted []netip.Prefix, now func() time.Time) *Guard {
	return &Guard{
		TrustedProxies: trusted,
		Now:            now,
		ipFailures:     newBudget(burst, time.Duration(burst)*refill),
		emailFailures:  newBudget(2*burst, time.Duration(burst)*refill), // twice as many, one every refill/2
		resetIP:        newBudget(10, time.Hour),
		resetEmail:     newBudget(3, time.Hour),
	}
}

// Login runs check, a login of email ("" for none), under the failed-login
// limit: TOO_MANY_REQUESTS with Retry-After set on w past it. The codes of
// failures (AUTH_FAILED when none are given) count as failed logins.
func (g *Guard) Login(w http.ResponseWriter, r *http.Request, email string, check func() (*ferry.User, error), failures ...string) (*ferry.User, error) {
	ip, now := g.ClientIP(r), g.Now()
	if wait := max(g.ipFailures.wait(ip, 1, now), g.emailFailures.wait(email, 1, now)); wait > 0 {
		SetRetryAfter(w, wait)
		return nil, ferry.Errorf(ferry.ETOOMANYREQUESTS, "Too many failed logins; try again later.")
	}
	if len(failures) == 0 {
		failures = []string{ferry.EAUTHFAILED}
	}
	u, err := check()
	if slices.Contains(failures, ferry.ErrorCode(err)) {
		g.ipFailures.take(ip, 1, now)
		if email != "" {
			g.emailFailures.take(email, 1, now)
		}
		if g.FailedLogin != nil {
			g.FailedLogin()
		}
		if g.Failed != nil && email != "" {
			g.Failed(r, email)
		}
	}
	return u, err
}

// Forgot runs send, which mails a password reset link to email, under the
// reset requests' limit (TOO_MANY_REQUESTS, with Retry-After set on w).
func (g *Guard) Forgot(w http.ResponseWriter, r *http.Request, email string, send func(email string) error) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ferry.Errorf(ferry.EBADREQUEST, "email is required.")
	}
	ip, now := g.ClientIP(r), g.Now()
	if wait := max(g.resetIP.wait(ip, 1, now), g.resetEmail.wait(email, 1, now)); wait > 0 {
		SetRetryAfter(w, wait)
		return ferry.Errorf(ferry.ETOOMANYREQUESTS, "Too many reset requests; try again later.")
	}
	g.resetIP.take(ip, 1, now)
	g.resetEmail.take(email, 1, now)
	return send(email)
}

// SetRetryAfter tells a refused client to come back in wait, in whole
// seconds rounded up.
func SetRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

// ClientIP is the address the request came from: the TCP peer, or, when
// the peer is a trusted proxy (config trusted_proxies), the nearest address
// in X-Forwarded-For that is not one: addresses left of it could have been
// written by the client itself.
func (g *Guard) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(g.TrustedProxies) == 0 || !g.Trusts(host) {
		return host
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			addr, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				return host // a malformed hop: trust nothing before it
			}
			host = addr.Unmap().String()
			if !g.Trusts(host) {
				return host
			}
		}
	}
	return host
}

// Trusts tells whether addr is one of the trusted proxies.
func (g *Guard) Trusts(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range g.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

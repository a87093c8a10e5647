package front

import (
	"context"
	"net/url"

	"github.com/ferryhq/ferry"
)

// SignIn checks a sign-in by password: the password, then, for an account
// with two-factor sign-in, its code (TOTP or recovery), used up here. It is
// OTP_REQUIRED when the account needs a code and none came, AUTH_FAILED
// for a wrong password or code (which Guard.Login counts as failed
// logins). Every front end that signs in with a password calls it under
// Guard.Login.
func SignIn(ctx context.Context, users ferry.UserService, email, password, otp string) (*ferry.User, error) {
	u, err := users.CheckPassword(ctx, email, password)
	if err != nil || !u.TwoFactor {
		return u, err
	}
	// No code is OTP_REQUIRED, from the store, as at a reset.
	if err := users.CheckSecondFactor(ctx, u.ID, otp); err != nil {
		return nil, err
	}
	return u, nil
}

// NeedsTwoFactor reports whether u is refused until they set up two-factor
// sign-in: auth.require_2fa is on (require) and theirs is not. An account
// bound to the identity provider signs in under the provider's own
// policy, and is not refused.
func NeedsTwoFactor(require bool, u *ferry.User) bool {
	return require && !u.TwoFactor && u.SSO == nil
}

// ErrTwoFactorRequired is the refusal of a call by such an account.
func ErrTwoFactorRequired() error {
	return ferry.Errorf(ferry.ETWOFACTORREQUIRED, "This service requires two-factor sign-in: set it up in Settings (or with POST /api/1/account/2fa/setup) first.")
}

// Issuer names ferry in authenticator apps: public_url's host name (no
// port: a colon ends the issuer in an otpauth label).
func Issuer(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "ferry"
}

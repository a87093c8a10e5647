package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Two-factor sign-in (TOTP, RFC 6238: SHA-1, six digits, 30-second
// steps). A user's secret, a setup that waits to be enabled, the last
// step whose code was accepted and the hashes of the unused recovery
// codes are one record of the two_factor bucket; the user's record says
// only that it is on (ferry.User.TwoFactor). A code is checked, and the
// step it used recorded, in the transaction of the call it signs, so that
// a step's code is accepted once.

// twoFactorRecord is a user's two-factor state.
type twoFactorRecord struct {
	Secret   string   `json:"secret,omitempty"`    // base32; set while two-factor sign-in is on
	Pending  string   `json:"pending,omitempty"`   // the otpauth URL of a setup not yet enabled
	LastStep int64    `json:"last_step,omitempty"` // the last step whose code was accepted
	Recovery []string `json:"recovery,omitempty"`  // SHA-256 (hex) of each unused recovery code
}

const (
	totpPeriod    = 30
	recoveryCodes = 10
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func getTwoFactor(tx *bolt.Tx, userID uint64) (twoFactorRecord, error) {
	var rec twoFactorRecord
	v := tx.Bucket(bucketTwoFactor).Get(itob(userID))
	if v == nil {
		return rec, nil
	}
	return rec, json.Unmarshal(v, &rec)
}

func putTwoFactor(tx *bolt.Tx, userID uint64, rec twoFactorRecord) error {
	if rec.Secret == "" && rec.Pending == "" {
		return tx.Bucket(bucketTwoFactor).Delete(itob(userID))
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTwoFactor).Put(itob(userID), v)
}

// checkCurrentPassword is WRONG_CURRENT_PASSWORD unless password is u's.
func (db *DB) checkCurrentPassword(u *ferry.User, password string) error {
	if password == "" || len(password) > ferry.MaxPasswordLen || u.PasswordHash == "" || !db.verifyPassword(u.PasswordHash, password) {
		return ferry.Errorf(ferry.EWRONGPASSWORD, "The current password is wrong.")
	}
	return nil
}

// SetupTwoFactor checks the user's password and keeps a new secret that
// waits for EnableTwoFactor, replacing any setup before it; it returns the
// secret and its otpauth URL, labelled with issuer and the user's email.
func (db *DB) SetupTwoFactor(ctx context.Context, userID uint64, password, issuer string) (string, string, error) {
	u, err := db.UserByID(userID)
	if err != nil {
		return "", "", err
	}
	if err := db.checkCurrentPassword(u, password); err != nil {
		return "", "", err
	}
	if u.TwoFactor {
		return "", "", ferry.Errorf(ferry.EBADREQUEST, "Two-factor sign-in is on already: turn it off first to set up another device.")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Email, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return "", "", err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		rec, err := getTwoFactor(tx, userID)
		if err != nil {
			return err
		}
		rec.Pending = key.URL()
		return putTwoFactor(tx, userID, rec)
	})
	if err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// TwoFactorSetup returns the otpauth URL of the user's setup that waits to
// be enabled, "" for none.
func (db *DB) TwoFactorSetup(ctx context.Context, userID uint64) (string, error) {
	var url string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		rec, err := getTwoFactor(tx, userID)
		url = rec.Pending
		return err
	})
	return url, err
}

// EnableTwoFactor turns two-factor sign-in on with the setup's secret,
// given a code of it, and returns ten recovery codes (kept only hashed).
// Every login token of the user but keep ends; personal tokens stay.
// INVALID_OTP; METHOD_BAD_REQUEST without a setup.
func (db *DB) EnableTwoFactor(ctx context.Context, userID uint64, keep, code string) ([]string, error) {
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		rec, err := getTwoFactor(tx, userID)
		if err != nil {
			return err
		}
		if rec.Pending == "" || u.TwoFactor {
			return ferry.Errorf(ferry.EBADREQUEST, "There is no two-factor setup to enable: set it up first.")
		}
		key, err := otp.NewKeyFromURL(rec.Pending)
		if err != nil {
			return err
		}
		rec = twoFactorRecord{Secret: key.Secret(), LastStep: rec.LastStep, Recovery: hashes}
		if !rec.acceptTOTP(code, db.now()) {
			return errInvalidOTP()
		}
		u.TwoFactor = true
		if err := db.record(tx, ctx, u.ID, ferry.Action2FAEnabled, u.Email, nil); err != nil {
			return err
		}
		return db.endLoginsWith(tx, u, keep, rec)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RenewRecoveryCodes replaces the user's recovery codes, given their
// password and a TOTP code, and ends every login token but keep:
// WRONG_CURRENT_PASSWORD, INVALID_OTP.
func (db *DB) RenewRecoveryCodes(ctx context.Context, userID uint64, keep, password, code string) ([]string, error) {
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	err = db.withTwoFactor(ctx, userID, password, func(tx *bolt.Tx, u *ferry.User, rec twoFactorRecord) error {
		if !rec.acceptTOTP(code, db.now()) {
			return errInvalidOTP()
		}
		rec.Recovery = hashes
		return db.endLoginsWith(tx, u, keep, rec)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTwoFactor turns two-factor sign-in off, given the password and a
// TOTP or recovery code, and ends every login token but keep:
// WRONG_CURRENT_PASSWORD, INVALID_OTP.
func (db *DB) DisableTwoFactor(ctx context.Context, userID uint64, keep, password, code string) error {
	return db.withTwoFactor(ctx, userID, password, func(tx *bolt.Tx, u *ferry.User, rec twoFactorRecord) error {
		if !rec.acceptTOTP(code, db.now()) && !rec.acceptRecovery(code) {
			return errInvalidOTP()
		}
		u.TwoFactor = false
		if err := db.record(tx, ctx, u.ID, ferry.Action2FADisabled, u.Email, nil); err != nil {
			return err
		}
		return db.endLoginsWith(tx, u, keep, twoFactorRecord{})
	})
}

// CheckSecondFactor checks a sign-in's code, TOTP or recovery, and uses
// it up: AUTH_FAILED for a wrong code, or one used already.
func (db *DB) CheckSecondFactor(ctx context.Context, userID uint64, code string) error {
	if strings.TrimSpace(code) == "" {
		return errOTPRequired() // no write for a sign-in that brought no code
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return checkSecondFactor(tx, userID, code, db.now())
	})
}

// checkSecondFactor is CheckSecondFactor in tx; no code is OTP_REQUIRED.
func checkSecondFactor(tx *bolt.Tx, userID uint64, code string, now time.Time) error {
	if strings.TrimSpace(code) == "" {
		return errOTPRequired()
	}
	rec, err := getTwoFactor(tx, userID)
	if err != nil {
		return err
	}
	if rec.Secret == "" || (!rec.acceptTOTP(code, now) && !rec.acceptRecovery(code)) {
		return ferry.Errorf(ferry.EAUTHFAILED, "The code is wrong, or it was used already.")
	}
	return putTwoFactor(tx, userID, rec)
}

// ResetTwoFactor turns the user's two-factor sign-in off, for a person who
// lost their device (ferry user set --reset-2fa).
func (db *DB) ResetTwoFactor(ctx context.Context, userID uint64) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if u.TwoFactor {
			if err := db.record(tx, ctx, u.ID, ferry.Action2FADisabled, u.Email, map[string]any{"reset": true}); err != nil {
				return err
			}
		}
		u.TwoFactor = false
		if err := putTwoFactor(tx, userID, twoFactorRecord{}); err != nil {
			return err
		}
		return putUser(tx, u)
	})
	return err
}

// withTwoFactor checks the password of a user whose two-factor sign-in is
// on, then runs f with their record in a write transaction.
func (db *DB) withTwoFactor(ctx context.Context, userID uint64, password string, f func(*bolt.Tx, *ferry.User, twoFactorRecord) error) error {
	u, err := db.UserByID(userID)
	if err != nil {
		return err
	}
	if err := db.checkCurrentPassword(u, password); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		rec, err := getTwoFactor(tx, userID)
		if err != nil {
			return err
		}
		if !u.TwoFactor || rec.Secret == "" {
			return ferry.Errorf(ferry.EBADREQUEST, "Two-factor sign-in is not on.")
		}
		return f(tx, u, rec)
	})
}

// endLoginsWith stores u and rec and ends every login token of u but
// keep: a change of two-factor sign-in signs the other sessions out.
func (db *DB) endLoginsWith(tx *bolt.Tx, u *ferry.User, keep string, rec twoFactorRecord) error {
	if err := putTwoFactor(tx, u.ID, rec); err != nil {
		return err
	}
	if err := revokeLoginTokens(tx, u.ID, keep); err != nil {
		return err
	}
	return putUser(tx, u)
}

func errOTPRequired() error {
	return ferry.Errorf(ferry.EOTPREQUIRED, "This account signs in with a code from its authenticator app too: send it as otp.")
}

func errInvalidOTP() error {
	return ferry.Errorf(ferry.EINVALIDOTP, "The code is wrong, or it was used already: enter the code your app shows now.")
}

// acceptTOTP reports whether code is the code of the step of now or the
// one before, and a step after the last one accepted; it records the step.
func (rec *twoFactorRecord) acceptTOTP(code string, now time.Time) bool {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 || rec.Secret == "" {
		return false
	}
	step := now.Unix() / totpPeriod
	for _, s := range []int64{step, step - 1} {
		if s <= rec.LastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(rec.Secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			rec.LastStep = s
			return true
		}
	}
	return false
}

// acceptRecovery reports whether code is one of the unused recovery
// codes, and uses it up.
func (rec *twoFactorRecord) acceptRecovery(code string) bool {
	h := hashRecovery(code)
	for i, r := range rec.Recovery {
		if subtle.ConstantTimeCompare([]byte(r), []byte(h)) == 1 {
			rec.Recovery = slices.Delete(rec.Recovery, i, i+1)
			return true
		}
	}
	return false
}

// hashRecovery is the stored form of a recovery code: SHA-256 of it
// without dashes, spaces or capitals (a code has 50 random bits, past
// guessing under the sign-in limits, so a fast hash is enough).
func hashRecovery(code string) string {
	code = strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// newRecoveryCodes makes ten codes, xxxxx-xxxxx in base32's letters and
// digits (50 random bits), and their hashes.
func newRecoveryCodes() (codes, hashes []string, err error) {
	for range recoveryCodes {
		t := strings.ToLower(rand.Text())
		code := t[:5] + "-" + t[5:10]
		codes = append(codes, code)
		hashes = append(hashes, hashRecovery(code))
	}
	return codes, hashes, nil
}

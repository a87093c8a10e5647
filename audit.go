package ferry

import (
	"context"
	"time"
)

// The audit log: an event for every action docs/api.md lists, written by
// the store in the transaction of the change it records. Who acted, and
// from where, travel in the request's context: the front ends' middleware
// puts the client's address there (as the failed-login limit sees it),
// and their sign-in wrappers the account.

// Actions of the audit log.
const (
	ActionLogin           = "login"
	ActionLoginFailed     = "login_failed"
	ActionLogout          = "logout"
	ActionPasswordChanged = "password_changed"
	ActionPasswordReset   = "password_reset"
	Action2FAEnabled      = "2fa_enabled"
	Action2FADisabled     = "2fa_disabled"
	ActionTokenCreated    = "token_created"
	ActionTokenRevoked    = "token_revoked"
	ActionLinkCreated     = "link_created"
	ActionLinkDownloaded  = "link_downloaded"
	ActionLinkRevoked     = "link_revoked"
	ActionSend            = "send"
	ActionAccept          = "accept"
	ActionDecline         = "decline"
	ActionExpire          = "expire"
	ActionRequestCreated  = "request_created"
	ActionRequestUpload   = "request_upload"
	ActionScanInfected    = "scan_infected"
	ActionAccountCreated  = "account_created"
	ActionAccountDeleted  = "account_deleted"
	ActionAdminUpdate     = "admin_update"
)

// Kinds of actors that are not an account.
const (
	ActorOutsider = "outsider"  // someone without an account (a download link's visitor)
	ActorAdminCLI = "admin CLI" // the ferry command on the server
	ActorFerry    = "ferry"     // ferry itself (an expiry)
)

// Event is one entry of the audit log, in the log of the account it
// belongs to (User): what it did, or what was done to it.
type Event struct {
	ID     uint64
	Time   time.Time
	User   uint64
	Action string
	Actor  string // the acting account's email, or one of the Actor kinds
	IP     string // the client's address; "" for the admin CLI and ferry itself
	Target string
	Detail map[string]any
}

// Actor is who does a request's work, as far as a front end knows it.
type Actor struct {
	UserID uint64
	Email  string // the account's, or an Actor kind
	IP     string
}

type actorKey struct{}

// WithActor returns ctx carrying an actor that later layers may complete
// (SignedIn): the client's address, or a kind (the admin CLI).
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, &a)
}

// SignedIn records, in ctx's actor, the account that signed in.
func SignedIn(ctx context.Context, u *User) {
	if a, ok := ctx.Value(actorKey{}).(*Actor); ok {
		a.UserID, a.Email = u.ID, u.Email
	}
}

// ActorOf is ctx's actor: an outsider at no known address when none.
func ActorOf(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(*Actor); ok {
		if a.Email == "" {
			c := *a
			c.Email = ActorOutsider
			return c
		}
		return *a
	}
	return Actor{Email: ActorOutsider}
}

// AuditFilter selects events: of one account (0: all), of one action ("":
// all), older than Before (0: the newest), at most Limit.
type AuditFilter struct {
	User   uint64
	Action string
	Before uint64
	Limit  int
	// Since and Until bound the events' times (zero: no bound), for an
	// export.
	Since, Until time.Time
}

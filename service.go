package ferry

import (
	"context"
	"io"
	"time"
)

// The services of ferry's domain, as its front ends (the HTTP API, WebDAV,
// the admin commands) call them; the store implements every one. Paths are
// parsed names (package paths). Each method runs in one transaction of its
// own, or in a few bounded ones where it says so, and applies the quota
// and size rules itself, from the user as stored: no caller passes limits.

// UserService is accounts, tokens, settings and photos.
type UserService interface {
	// CreateUser makes an account: INVALID_EMAIL, METHOD_BAD_REQUEST (full
	// name), INVALID_NEW_PASSWORD, EMAIL_ALREADY_EXIST. An empty package
	// is the default package.
	CreateUser(ctx context.Context, nu NewUser) (*User, error)
	// CreateInvitedUser is CreateUser with an invitation code, used up in
	// the same transaction: NO_PERMISSION for a wrong, used or expired one.
	CreateInvitedUser(ctx context.Context, nu NewUser, code string) (*User, error)
	// Invitation is what an invitation code stands for, for the signup
	// page: NO_PERMISSION for a wrong, used or expired one.
	Invitation(ctx context.Context, code string) (Invitation, error)
	// CheckPassword returns the user of an email and password:
	// AUTH_FAILED, ACCOUNT_DISABLED.
	CheckPassword(ctx context.Context, email, password string) (*User, error)
	CreateToken(ctx context.Context, userID uint64) (string, error)
	// Authenticate returns the user of a token: NO_PERMISSION,
	// ACCOUNT_DISABLED.
	Authenticate(ctx context.Context, token string) (*User, error)
	RevokeToken(ctx context.Context, token string) error
	// ForgotPassword makes a reset code of life for email's account and
	// queues mail(user, code) to it; for no account it does nothing.
	ForgotPassword(ctx context.Context, email string, life time.Duration, mail func(u *User, code string) Mail) error
	// ResetPassword sets the password of a reset code's account, ending
	// its tokens and app password: NO_PERMISSION for an unknown, used or
	// expired code, INVALID_NEW_PASSWORD. An account with two-factor
	// sign-in needs its code too (otp): OTP_REQUIRED, AUTH_FAILED, and the
	// reset code stays good.
	ResetPassword(ctx context.Context, code, password, otp string) (*User, error)
	// DeleteAccount deletes the user's account and everything it owns,
	// given their password: WRONG_CURRENT_PASSWORD.
	DeleteAccount(ctx context.Context, userID uint64, password string) error
	// RevokeUserTokens ends every token of the user but keep.
	RevokeUserTokens(ctx context.Context, userID uint64, keep string) error
	// CreatePersonalToken makes a personal access token named name (1-100
	// characters) that ends after life (0: never), and returns its id and
	// the token: METHOD_BAD_REQUEST.
	CreatePersonalToken(ctx context.Context, userID uint64, name string, life time.Duration) (id uint64, token string, err error)
	// PersonalTokens lists the user's personal access tokens, newest first.
	PersonalTokens(ctx context.Context, userID uint64) ([]PersonalToken, error)
	// RevokePersonalToken ends one of them: NOT_FOUND.
	RevokePersonalToken(ctx context.Context, userID, id uint64) error
	// SetupTwoFactor checks the password and keeps a new TOTP secret that
	// waits for EnableTwoFactor; it returns the secret and its otpauth URL
	// (issuer names the service): WRONG_CURRENT_PASSWORD,
	// METHOD_BAD_REQUEST when two-factor sign-in is on already.
	SetupTwoFactor(ctx context.Context, userID uint64, password, issuer string) (secret, url string, err error)
	// TwoFactorSetup is the otpauth URL of the setup that waits, "" none.
	TwoFactorSetup(ctx context.Context, userID uint64) (string, error)
	// EnableTwoFactor turns it on, given a code of the setup's secret, and
	// returns ten recovery codes; every login token but keep ends:
	// INVALID_OTP, METHOD_BAD_REQUEST without a setup.
	EnableTwoFactor(ctx context.Context, userID uint64, keep, code string) ([]string, error)
	// RenewRecoveryCodes gives new recovery codes for the password and a
	// TOTP code; every login token but keep ends.
	RenewRecoveryCodes(ctx context.Context, userID uint64, keep, password, code string) ([]string, error)
	// DisableTwoFactor turns it off for the password and a TOTP or
	// recovery code; every login token but keep ends.
	DisableTwoFactor(ctx context.Context, userID uint64, keep, password, code string) error
	// CheckSecondFactor checks and uses up a sign-in's TOTP or recovery
	// code: AUTH_FAILED.
	CheckSecondFactor(ctx context.Context, userID uint64, code string) error
	// UserBySSO is the account bound to a provider's identity:
	// USER_NOT_FOUND.
	UserBySSO(ctx context.Context, l SSOLink) (*User, error)
	// CreateSSOUser makes an account bound to l, without a password:
	// EMAIL_ALREADY_EXIST (an email never links an account).
	CreateSSOUser(ctx context.Context, nu NewUser, l SSOLink) (*User, error)
	// LinkSSO binds the user's account to l: METHOD_BAD_REQUEST when l is
	// another account's, or the account is bound to another identity.
	LinkSSO(ctx context.Context, userID uint64, l SSOLink) error
	// UnlinkSSO unbinds it: METHOD_BAD_REQUEST without a password.
	UnlinkSSO(ctx context.Context, userID uint64) error
	// SetPackage moves the user to a package: METHOD_BAD_REQUEST.
	SetPackage(ctx context.Context, userID uint64, pkg string) error
	// AddPasskey keeps a new passkey of the user (1-100 character name):
	// METHOD_BAD_REQUEST.
	AddPasskey(ctx context.Context, userID uint64, p Passkey) error
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID uint64) ([]Passkey, error)
	// RemovePasskey deletes one: NOT_FOUND.
	RemovePasskey(ctx context.Context, userID uint64, id []byte) error
	// PasskeyOwner is the account a credential id belongs to, with its
	// passkey: AUTH_FAILED for none.
	PasskeyOwner(ctx context.Context, id []byte) (*User, Passkey, error)
	// UsePasskey records a sign-in with the passkey, whose authenticator
	// counted signCount: AUTH_FAILED when the counter did not move on
	// (a cloned authenticator), or the passkey is gone.
	UsePasskey(ctx context.Context, userID uint64, id []byte, signCount uint32) error
	// Activity lists audit events, newest first, as f selects them.
	Activity(ctx context.Context, f AuditFilter) ([]Event, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Quota returns the user's limits in force and usage.
	Quota(ctx context.Context, userID uint64) (Quota, error)
	// ChangeSettings applies a /settings/update; a new password ends
	// every credential but the token keep.
	ChangeSettings(ctx context.Context, userID uint64, keep string, ch SettingsChange) error
	SetPhoto(ctx context.Context, userID uint64, p Photo) (string, error)
	RemovePhoto(ctx context.Context, userID uint64) error
	PhotoByToken(ctx context.Context, token string) (Photo, error)
}

// RequestService is file requests: upload links for people without an
// account.
type RequestService interface {
	// CreateRequest makes a file request and returns its id and token:
	// METHOD_BAD_REQUEST.
	CreateRequest(ctx context.Context, userID uint64, r NewFileRequest) (uint64, string, error)
	// Requests lists the user's requests, newest first.
	Requests(ctx context.Context, userID uint64) ([]FileRequest, error)
	// RevokeRequest ends one at once: REQUEST_NOT_FOUND (another user's
	// too).
	RevokeRequest(ctx context.Context, userID, id uint64) error
	// OpenRequest is what a request's token shows an outsider:
	// LINK_EXPIRED for an unknown, expired or revoked request, or one
	// whose owner is gone or disabled; AUTH_FAILED for a wrong password
	// (none given: the request without its message).
	OpenRequest(ctx context.Context, token, password string) (OpenedRequest, error)
	// StartDelivery begins an outsider's delivery to a request, under the
	// name and email they give, and returns its key: OpenRequest's errors,
	// INVALID_EMAIL, METHOD_BAD_REQUEST (a name over 100 characters).
	StartDelivery(ctx context.Context, token, password, name, email string) (string, error)
	// Deliver adds a file to a delivery, streamed from body (size: the
	// declared length, -1 unknown), under name (a path: folders are
	// made; a name taken in the delivery gets a free one). Bytes past the
	// request's max_size (over the whole delivery) or a file past its
	// max_files are PAYLOAD_TOO_LARGE, found while they arrive; INFECTED,
	// SCAN_UNAVAILABLE; UPLOAD_NOT_FOUND for an unknown, finished or
	// dropped delivery; OpenRequest's errors.
	Deliver(ctx context.Context, d Delivery, name string, body io.Reader, size int64) (Delivered, error)
	// FinishDelivery makes the delivery a message in the request owner's
	// inbox, and queues notice's mail to the owner in the same
	// transaction: METHOD_BAD_REQUEST without a file, QUOTA_EXCEEDED when
	// the owner's inbox is full. It returns the files and their total.
	FinishDelivery(ctx context.Context, d Delivery, notice func(owner *User, title string, m Message) Mail) (files int, size int64, err error)
}

// AdminService is what an administrator does to other accounts, through
// the /admin/ calls and pages; app implements it over the store and the
// configuration's packages. by is the administrator acting.
type AdminService interface {
	// Users lists the accounts whose email or name contains query, in
	// order of sort ("" or "email"; "usage", the most first; "login", the
	// latest first), from offset, at most limit; and how many match.
	Users(ctx context.Context, query, sort string, offset, limit int) ([]AdminUser, int, error)
	// User is one account: USER_NOT_FOUND.
	User(ctx context.Context, email string) (AdminUser, error)
	// UpdateUser changes an account: USER_NOT_FOUND, METHOD_BAD_REQUEST
	// (an unknown package, a negative size, an administrator taking away
	// their own role or disabling themself).
	UpdateUser(ctx context.Context, by *User, email string, ch AdminChange) (AdminUser, error)
	// DeleteUser deletes an account as `ferry user delete` does:
	// USER_NOT_FOUND; METHOD_BAD_REQUEST for the administrator's own.
	DeleteUser(ctx context.Context, by *User, email string) error
	// Mail lists the mail outbox, oldest first, of one status ("" all).
	Mail(ctx context.Context, status string) ([]QueuedMail, error)
	// RetryMail sends a mail again now; DeleteMail drops it: NOT_FOUND.
	RetryMail(ctx context.Context, id uint64) error
	DeleteMail(ctx context.Context, id uint64) error
	// Console is the console's first page in one read of the accounts:
	// its figures, and a page of Users.
	Console(ctx context.Context, query, sort string, offset, limit int) (AdminOverview, []AdminUser, int, error)
	// Packages lists the packages, by name.
	Packages(ctx context.Context) ([]AdminPackage, error)
}

// Blob is a file's content opened for reading: an *os.File when blobs are
// in the data directory, a reader of an object when they are in S3.
type Blob interface {
	io.Reader
	io.Seeker
	io.Closer
}

// FileService is a user's folder: the tree, file content and download
// links.
type FileService interface {
	// List calls each with every entry of a folder, in name order.
	List(ctx context.Context, userID uint64, names []string, each func(name []byte, dir bool, size int64)) error
	Mkdir(ctx context.Context, userID uint64, names []string) error
	// Move and Copy move or copy a file or folder to a full path.
	Move(ctx context.Context, userID uint64, t Transfer) error
	Copy(ctx context.Context, userID uint64, t Transfer) error
	Delete(ctx context.Context, userID uint64, list [][]string) ([]error, error)
	Sizes(ctx context.Context, userID uint64, list [][]string) ([]int64, error)
	Stat(ctx context.Context, userID uint64, names []string) (FileInfo, error)
	// OpenBlob opens a file's content, of the given size, for reading.
	OpenBlob(ctx context.Context, sha256 string, size int64) (Blob, error)
	// BlobURL returns a URL that downloads a file's content as an
	// attachment named name straight from the blob store for the next
	// expiry, without credentials; "" when the store cannot give one
	// (blobs in the data directory).
	BlobURL(ctx context.Context, sha256, name string, expiry time.Duration) (string, error)
	// PutFile stores a file's content, streamed from the request's body.
	PutFile(ctx context.Context, p PutRequest) (FileInfo, error)
	// CreateLink makes a download link to a file: its token and id.
	CreateLink(ctx context.Context, userID uint64, names []string, expires time.Time, opts LinkOptions) (string, uint64, error)
	// OpenLink returns what a link opens, given its password when it has
	// one: LINK_EXPIRED when it does not work (any more), AUTH_FAILED for
	// a missing or wrong password.
	OpenLink(ctx context.Context, token, password string) (OpenedLink, error)
	// CountDownload counts one whole download of a link; past its limit
	// it counts nothing and answers LINK_EXPIRED.
	CountDownload(ctx context.Context, token string) error
	// Links lists the user's unexpired links, newest first.
	Links(ctx context.Context, userID uint64) ([]Link, error)
	// RevokeLink ends a link of the user: LINK_NOT_FOUND.
	RevokeLink(ctx context.Context, userID, id uint64) error
}

// UploadService is resumable uploads.
type UploadService interface {
	CreateUpload(ctx context.Context, userID uint64, names []string, size int64, resolve bool) (key, path string, err error)
	// WriteChunk appends a chunk; one that does not start where the upload
	// stands is an *OffsetError.
	WriteChunk(ctx context.Context, c Chunk) (int64, error)
	UploadStatus(ctx context.Context, userID uint64, key string) (received, size int64, err error)
	FinalizeUpload(ctx context.Context, userID uint64, key string) (FileInfo, error)
}

// MessageService is sending, the inbox and the outbox.
type MessageService interface {
	// Send sends sources to the user with the email to; notice, when not
	// nil, makes the mail that tells the receiver.
	Send(ctx context.Context, senderID uint64, to string, sources []SendSource, notice func(receiver *User, destinations []string, total int64) Mail) ([]uint64, error)
	// SendInvited sends to an email without an account, with an
	// invitation (mail) whose signup claims the sends.
	SendInvited(ctx context.Context, senderID uint64, email string, sources []SendSource, mail func(code string, destinations []string, total int64, expires time.Time) Mail) ([]uint64, error)
	Inbox(ctx context.Context, receiverID uint64) ([]Message, error)
	// Waiting counts the messages Inbox would list, reading no more.
	Waiting(ctx context.Context, receiverID uint64) (int, error)
	Outbox(ctx context.Context, senderID uint64) ([]Message, error)
	// Received returns up to limit of the messages the receiver has
	// decided on or let expire, newest first.
	Received(ctx context.Context, receiverID uint64, limit int) ([]Message, error)
	// Contents returns message id with up to limit of the items it
	// carries, in order from the offset-th, for its sender or receiver.
	Contents(ctx context.Context, userID, id uint64, offset, limit int) (Message, []SentItem, error)
	UpdateInbox(ctx context.Context, receiverID uint64, decisions []Decision) ([]error, error)
}

// ContactNotice is the mail that tells contact that owner added them: a
// request to answer, or (back) that owner added them back.
type ContactNotice func(owner, contact *User, back bool) Mail

// SocialService is contacts, notifications and invitations.
type SocialService interface {
	// AddContacts adds each email's user to the owner's contacts; each
	// gets a contact request unless one is unread already, and with it
	// notice(owner, contact, false), when notice is not nil. Adding back
	// someone who has the owner as a contact already completes the pair:
	// it answers their request to the owner, and instead of a request they
	// get notice(owner, contact, true).
	AddContacts(ctx context.Context, ownerID uint64, emails []string, notice ContactNotice) ([]error, error)
	Contacts(ctx context.Context, ownerID uint64, filter string) ([]Contact, error)
	RemoveContact(ctx context.Context, ownerID uint64, email string) error
	Notifications(ctx context.Context, userID uint64) ([]Notification, error)
	MarkNotificationsRead(ctx context.Context, userID uint64, ids []uint64) ([]error, error)
	// Invite queues mail(email, code) to each address without an account,
	// under the daily limit.
	Invite(ctx context.Context, inviterID uint64, emails []string, mail func(email, code string) Mail) ([]error, error)
}

// DavService is what WebDAV needs beyond FileService: app passwords, single
// lookups and the properties clients set.
type DavService interface {
	AppPassword(ctx context.Context, userID uint64) (string, error)
	ResetAppPassword(ctx context.Context, userID uint64) (string, error)
	CheckAppPassword(ctx context.Context, email, password string) (*User, error)
	Lookup(ctx context.Context, userID uint64, names []string) (FileInfo, error)
	ReadDir(ctx context.Context, userID uint64, names []string) ([]FileInfo, error)
	// MakeFolder makes one folder whose parent exists; replace is Move's.
	MakeFolder(ctx context.Context, userID uint64, names []string, replace bool) error
	DeadProps(ctx context.Context, userID uint64, names []string) ([]byte, error)
	PatchDeadProps(ctx context.Context, userID uint64, names []string, patch func(old []byte) ([]byte, error)) error
}

// Transfer is a move or a copy.
type Transfer struct {
	Src, Dst []string
	// Replace deletes what is at Dst in the same transaction (WebDAV's
	// Overwrite: T); without it a taken Dst is FILE_EXISTS.
	Replace bool
	// NoParents wants Dst's parent to be a folder already (WebDAV): it
	// is FILE_NOT_FOUND otherwise, checked in the same transaction.
	// Without it, missing parents are made.
	NoParents bool
}

// PutRequest is a file upload (PUT /files, WebDAV PUT).
type PutRequest struct {
	UserID uint64
	Names  []string
	// Resolve gives the file a free name when the path is taken, instead
	// of replacing a file there.
	Resolve bool
	Body    io.Reader
	// Size is the declared length, -1 when unknown.
	Size int64
	// NoParents is Transfer's.
	NoParents bool
}

// Chunk is a piece of a resumable upload: the bytes [Start, End] of a file
// of Total bytes.
type Chunk struct {
	UserID            uint64
	Key               string
	Start, End, Total int64
	Body              io.Reader
}

// Quota is a user's limits in force (0: unlimited) and usage; Received is
// what they accepted this month (from 00:00 UTC on the 1st).
type Quota struct {
	Storage         int64
	ReceivePerMonth int64
	Usage           Usage
	Received        int64
}

// Register makes an account under the signup policy mode (auth.signup),
// for the API's register call and the web app's signup alike. With an
// invitation code, open and invite signup both use it up: the sends it
// carries reach the account, whatever email that account has (NO_PERMISSION
// for a wrong, used or expired code). Without one, open signup makes a
// plain account and invite signup refuses. Closed signup refuses everyone:
// the administrator makes the accounts.
func Register(ctx context.Context, users UserService, mode string, nu NewUser, invite string) (*User, error) {
	switch {
	case mode == "closed":
		return nil, Errorf(ENOPERMISSION, "Signup is closed on this server: ask its administrator for an account.")
	case invite != "":
		return users.CreateInvitedUser(ctx, nu, invite)
	case mode == "open":
		return users.CreateUser(ctx, nu)
	}
	return nil, Errorf(ENOPERMISSION, "Signup needs an invitation on this server: use the link in your invitation mail.")
}

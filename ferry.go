// Package ferry holds the domain types shared by every other package of the
// service: users and their usage, and the error type of error.go. It imports
// nothing but the standard library.
package ferry

import (
	"encoding/binary"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is an account. Email is the login: trimmed, lower-cased and validated
// before it is stored.
type User struct {
	ID           uint64 `json:"id"`
	Email        string `json:"email"`
	FullName     string `json:"fullname"`
	PasswordHash string `json:"password_hash"`
	Package      string `json:"package"`
	Disabled     bool   `json:"disabled,omitempty"`
	AcceptAll    bool   `json:"accept_all,omitempty"`
	// NoDecisionMail turns off the mails that tell this user what became
	// of their sends (the setting mail_on_decision, on by default).
	NoDecisionMail bool `json:"no_decision_mail,omitempty"`
	// MailOnDownload mails the account when one of its download links is
	// downloaded (at most a mail a link an hour).
	MailOnDownload bool `json:"mail_on_download,omitempty"`
	// Admin makes the account an administrator: the /admin/ calls and
	// pages.
	Admin bool `json:"admin,omitempty"`
	// LastLogin is when the account last signed in (zero: never).
	LastLogin time.Time `json:"last_login,omitzero"`
	// SSO is the identity provider's account this one is bound to (nil:
	// none): signing in there signs in here.
	SSO *SSOLink `json:"sso,omitempty"`
	// TwoFactor says sign-in needs a code after the password (its secret
	// is kept apart from the user's record).
	TwoFactor bool      `json:"two_factor,omitempty"`
	Created   time.Time `json:"created"`
	// PhotoToken names the user's photo (served at /photos/{token}); empty
	// without one. A new photo gets a new token.
	PhotoToken string `json:"photo,omitempty"`

	// StorageOverride and ReceiveOverride replace the package's limits for
	// this user when set; 0 means unlimited.
	StorageOverride *int64 `json:"storage_override,omitempty"`
	ReceiveOverride *int64 `json:"receive_override,omitempty"`

	// PasskeyHandle is the user handle its passkeys carry, when it is not
	// its id (PasskeyID): an account moved to another node (cluster mode)
	// keeps the handle of the node its passkeys were made on.
	PasskeyHandle []byte `json:"passkey_handle,omitempty"`
}

// PasskeyID is the user handle of u's passkeys: PasskeyHandle, or its id
// in 8 bytes.
func (u *User) PasskeyID() []byte {
	if len(u.PasskeyHandle) > 0 {
		return u.PasskeyHandle
	}
	return binary.BigEndian.AppendUint64(nil, u.ID)
}

// AdminUser is an account as an administrator sees it: the limits in
// force (0 = unlimited) and this month's receiving, in bytes.
type AdminUser struct {
	ID             uint64
	Email          string
	FullName       string
	Package        string
	Storage        int64 // the storage quota
	Normal         int64 // what the account stores
	ReceivingQuota int64 // the monthly receive quota
	Received       int64 // received this month
	Disabled       bool
	Admin          bool
	TwoFactor      bool
	Created        time.Time
	LastLogin      time.Time // zero: never
	// Node is, in cluster mode, the node that keeps the account when it is
	// not the one answering ("" for that one): its audit log is there.
	Node string
}

// AdminOverview is the first page of the admin console.
type AdminOverview struct {
	Accounts, Disabled, Admins int
	Stored                     int64 // bytes stored by every account
	ReceivedThisMonth          int64
	SendsWaiting               int
	MailQueued, MailFailed     int
}

// AdminPackage is a package of limits, with how many accounts are on it.
type AdminPackage struct {
	Name            string
	Storage         int64 // 0 = unlimited
	ReceivePerMonth int64
	People          int
	Default         bool
}

// AdminChange is an administrator's change of an account; nil fields stay.
// Storage and Receive are bytes, 0 for unlimited.
type AdminChange struct {
	Package        *string
	Storage        *int64
	Receive        *int64
	Disabled       *bool
	Admin          *bool
	ResetTwoFactor bool
}

// HasPassword reports whether the account has a password: one made
// through an identity provider has none until a reset sets one.
func (u *User) HasPassword() bool {
	return u.PasswordHash != ""
}

// SSOLink names an account of an OpenID Connect provider: its issuer
// and its subject there, which never change (an email can).
type SSOLink struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
}

// Passkey is a WebAuthn credential of an account: the store keeps the
// front end's record of it (Credential) and checks its signature counter.
type Passkey struct {
	ID       []byte // the credential's id
	Name     string
	Created  time.Time
	LastUsed time.Time // zero: not used yet
	// SignCount is the authenticator's signature counter at the last use
	// (0 for an authenticator that keeps none).
	SignCount  uint32
	Credential []byte
}

// NewFileRequest is a file request to make: an upload link for people
// without an account, whose deliveries land in the owner's inbox.
type NewFileRequest struct {
	Title, Message string
	Expires        time.Time
	MaxFiles       int   // 0: no limit
	MaxSize        int64 // total bytes of a delivery; 0: no limit
	Password       string
	Folder         []string // where accepted files land
}

// FileRequest is a file request as its owner's list shows it.
type FileRequest struct {
	ID               uint64
	Title, Folder    string
	Created, Expires time.Time
	Uploads          int // finished deliveries
	MaxFiles         int
	MaxSize          int64
	Password         bool
}

// OpenedRequest is a file request as the outsider it is for sees it:
// Message is empty while a password it has is not given.
type OpenedRequest struct {
	Title, Message string
	Owner          string // the owner's full name
	Expires        time.Time
	MaxFiles       int
	MaxSize        int64
	Password       bool
	// Full says that the owner's inbox takes no more now (send.max_pending):
	// a delivery would not be taken.
	Full bool
}

// Delivery is an outsider's visit to a file request: the files they put
// arrive together, as one message, when they finish.
type Delivery struct {
	Token    string // the request's
	Key      string // the delivery's, from StartDelivery
	Password string // the request's, when it has one
}

// Delivered is one file of a delivery, as the outsider's receipt shows it.
type Delivered struct {
	Name   string // where it lands below the delivery's folder
	Size   int64
	SHA256 string // in hex
}

// PersonalToken is a personal access token as its owner's list shows it:
// the token itself is shown once, when it is made, and never kept.
type PersonalToken struct {
	ID       uint64
	Name     string
	Created  time.Time
	Expires  time.Time // zero: never
	LastUsed time.Time // zero: not used yet
}

// Invitation is what waits for the account an invitation's code makes:
// the email it was sent to, who sent it, and the sends made with it that
// still wait (how many items, their total size, when the first of them
// expires; none for an invitation without sends).
type Invitation struct {
	Email        string
	InviterName  string
	InviterEmail string
	Items        int
	Size         int64
	Until        time.Time
}

// NewUser is what it takes to create an account. The store checks and
// normalises Email, FullName and Password; Package is taken as it is.
type NewUser struct {
	Email    string
	Password string
	FullName string
	Package  string
}

// Usage is what a user has spent of their quotas.
type Usage struct {
	// Normal is the total size of the user's files, in bytes.
	Normal int64
	// Received is the number of bytes accepted in the month that starts at
	// ReceivedSince (00:00 UTC on the 1st).
	Received      int64
	ReceivedSince time.Time
	// Reserved is the declared size of the user's resumable uploads in
	// progress: room they hold until they are finalized, expire or are
	// refused.
	Reserved int64
	// Held is the size of files the user deleted or replaced while a
	// pending send of theirs carried the same content: it counts until
	// every such send is accepted, declined or expires.
	Held int64
	// Props is the size of the WebDAV properties the user's clients set.
	Props int64
}

// Charged is what counts against the storage quota: files, uploads in
// progress and content held for pending sends.
func (u Usage) Charged() int64 {
	return u.Normal + u.Reserved + u.Held
}

// Limits on account fields, checked by NormalizeEmail and ValidFullName.
const (
	MaxEmailLen    = 254
	MaxFullNameLen = 200 // characters
)

// NormalizeEmail trims and lower-cases an email address and checks that it
// is one plain address ("a@example.com", without a display name). It returns
// an INVALID_EMAIL *Error otherwise.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || len(e) > MaxEmailLen ||
		strings.ContainsAny(e, "\r\n\x00") {
		return "", Errorf(EINVALIDEMAIL, "%q is not a valid email address.", s)
	}
	domain := e[strings.LastIndexByte(e, '@')+1:]
	if domain == "" || strings.HasPrefix(domain, "[") {
		return "", Errorf(EINVALIDEMAIL, "%q is not a valid email address.", s)
	}
	return e, nil
}

// ValidFullName trims a full name and checks that it holds no control
// characters (so it can never break a mail header) and is not too long
// (MaxFullNameLen characters). It returns a METHOD_BAD_REQUEST *Error
// otherwise.
func ValidFullName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if !utf8.ValidString(n) {
		return "", Errorf(EBADREQUEST, "The full name has bytes that are not text (it must be UTF-8).")
	}
	if utf8.RuneCountInString(n) > MaxFullNameLen {
		return "", Errorf(EBADREQUEST, "The full name is too long: at most %d characters.", MaxFullNameLen)
	}
	if strings.IndexFunc(n, IsControl) >= 0 {
		return "", Errorf(EBADREQUEST, "The full name must not contain control characters.")
	}
	return n, nil
}

// IsControl reports whether r is a character that names (of files,
// folders and people) may not hold: a control character, or a
// bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), with
// which "evil‮txt.exe" shows as "evilexe.txt" in any UI.
func IsControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// MinPasswordLen is the fewest characters a password may have; MaxPasswordLen
// bounds the bytes hashed.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// ValidPassword returns an INVALID_NEW_PASSWORD *Error when p is too short or
// too long to be a password.
func ValidPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLen || len(p) > MaxPasswordLen {
		return Errorf(EINVALIDPASSWORD, "A password needs at least %d characters (and at most %d bytes).", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// Entry is one row of a folder listing (docs/api.md, ops/list): File is the full
// path from the user's root; Size is a file's size or a folder's total;
// Type is "f" or "d".
type Entry struct {
	File string `json:"file"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// FileInfo describes a stored file: its path from the user's root (or just
// its name where the path is not known), size, SHA-256 in hex, and when its
// content last changed.
type FileInfo struct {
	Path     string
	Name     string
	Dir      bool // a folder: Size is its total, SHA256 is empty
	Size     int64
	SHA256   string
	Modified time.Time
}

// Link is a download link as its owner sees it. File is "" once the file
// is gone (the link no longer works).
type Link struct {
	ID               uint64
	File             string
	Created, Expires time.Time
	Downloads        uint64
	MaxDownloads     uint64 // 0: no limit
	Password         bool
}

// LinkOptions are what a new link may have beside its expiry: a download
// limit (0: none) and a password ("": none).
type LinkOptions struct {
	MaxDownloads uint64
	Password     string
}

// OpenedLink is what a download link opens: its file, its expiry, and
// whether it has a password.
type OpenedLink struct {
	File     FileInfo
	Expires  time.Time
	Password bool
}

// SendSource is one parsed entry of /ops/send's source: the path, the
// files listed (each relative to Path), and whether Path is sent as one
// folder.
type SendSource struct {
	Path   []string
	Files  [][]string
	Folder bool
	// Bare makes each destination the path below Path (a folder's: its
	// name) instead of the whole path: the web app's New send, whose files
	// wait in the sender's Sent folder, sends them as they were chosen.
	Bare bool
}

// Statuses of a sent message, as /outbox/list shows them.
const (
	StatusPending  = "pending"
	StatusInvited  = "invited" // waiting for the receiver's account, to which an invitation went
	StatusAccepted = "accepted"
	StatusDeclined = "declined"
	StatusExpired  = "expired"
)

// Message is one send: a file or a folder from one user to another.
type Message struct {
	ID          uint64
	Destination string
	Folder      bool
	Size        int64
	Created     time.Time
	Status      string
	SenderName  string
	SenderEmail string
	SenderPhoto string // the token of the sender's photo, "" for none
	To          string
	ToName      string // the receiver's full name, "" when unknown
	Items       int    // files and folders it carries, the folder itself not counted
	// Landed is where an accepted message was placed in the receiver's
	// folder (a free name when the destination was taken); set only in
	// the receiver's own listings.
	Landed string
	// Request is the file request of a delivery (type REQUEST), whose
	// sender is the outsider as they named themself; 0 for a send.
	Request uint64
	// ScanPending says that content it carries waits for the virus
	// scanner: it cannot be accepted until a scan finds it clean.
	ScanPending bool
}

// Message types, as the inbox shows them.
const (
	TypeSend    = "SEND"
	TypeRequest = "REQUEST" // a file request's delivery
)

// Type is the message's type: SEND, or REQUEST for a delivery.
func (m *Message) Type() string {
	if m.Request != 0 {
		return TypeRequest
	}
	return TypeSend
}

// SentItem is one file or folder a message carries, its path relative to
// the message's destination.
type SentItem struct {
	Path string
	Dir  bool
	Size int64
}

// Outcome is what became of one send, for the mail that tells its
// sender: accepted, declined or expired.
type Outcome struct {
	To          string // the receiver's email
	Destination string
	Folder      bool
	Size        int64
	Status      string
}

// Decision is one item of /inbox/update: accept or decline a message.
type Decision struct {
	ID     uint64
	Accept bool
}

// SendLimits bound one send: the files and folders it carries in all, and
// the pending messages a receiver may have; 0 is no limit.
type SendLimits struct {
	MaxFiles   int
	MaxPending int
}

// SettingsChange is a /settings/update: nil fields are left as they are. A
// new password needs the current one.
type SettingsChange struct {
	FullName        *string
	CurrentPassword string
	NewPassword     *string
	AcceptAll       *bool
	MailOnDecision  *bool
	MailOnDownload  *bool
}

// Mail is a mail ferry sends: invitations, contact requests and "files
// sent to you". To (and ReplyTo, when set) are checked addresses; the
// mailer encodes every header, so nothing in Subject can add a header.
// Body is plain text; the mailer adds an HTML part made from it, in which
// a line that is one of Links (ferry's own addresses, never text a user
// typed) is a link.
type Mail struct {
	To      string   `json:"to"`
	ReplyTo string   `json:"reply_to,omitempty"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
	Links   []string `json:"links,omitempty"`
}

// Statuses of a mail in the outbox.
const (
	MailQueued = "queued"
	MailSent   = "sent"
	MailFailed = "failed"
)

// QueuedMail is a mail in the durable outbox.
type QueuedMail struct {
	Mail
	ID          uint64    `json:"id"`
	MessageID   string    `json:"message_id"` // the local part of its Message-ID, fixed when queued
	Created     time.Time `json:"created"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
}

// Contact is one row of /contacts/list.
type Contact struct {
	FullName   string
	Email      string
	PhotoToken string
}

// NotificationContactRequest is the one notification type there is:
// someone added the user to their contacts.
const NotificationContactRequest = "CONTACT_REQUEST"

// Notification is one row of /notifications/list.
type Notification struct {
	ID      uint64
	Type    string
	Email   string // who it is about: for CONTACT_REQUEST, who added you
	Created time.Time
	Read    bool
}

// Photo is a user's profile photo.
type Photo struct {
	ContentType string
	Data        []byte
}

// InviteLimits bound invitations: how many one user may send per UTC day
// (0: no limit), and how long a signup code works.
type InviteLimits struct {
	PerDay   int
	ExpireIn time.Duration
}

// Package store keeps ferry's state in a bbolt database under the data
// directory. Every exported method runs in one transaction of its own.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
	"github.com/ferryhq/ferry/store/blobs"
)

// SchemaVersion is the layout of the buckets this code reads and writes. Open
// refuses a database written by a newer version.
// Version 2 added send_pins and three fields to usage records; version 3
// gave links an id, a creation time and a download count, and the index
// user_links; version 4 added the index received; version 5 the index
// closed; version 6 moved a message's items into its record. Open
// migrates older stores.
const SchemaVersion = 6

// FileName is the database's file name inside the data directory.
const FileName = "ferry.db"

var (
	bucketMeta       = []byte("meta")
	bucketUsers      = []byte("users")       // id -> JSON ferry.User
	bucketUserEmails = []byte("user_emails") // email -> id
	bucketUsage      = []byte("usage")       // user id -> encoded ferry.Usage
	bucketTokens     = []byte("tokens")      // sha256(token) -> encoded tokenRecord
	bucketUserTokens = []byte("user_tokens") // user id + sha256(token) -> nothing
	bucketRoots      = []byte("roots")       // user id -> root folder's node id
	bucketNodes      = []byte("nodes")       // node id -> encoded node
	bucketChildren   = []byte("children")    // parent id + name -> child id
	bucketBlobs      = []byte("blobs")       // sha256 -> reference count 8 | size 8
	bucketBlobKeys   = []byte("blob_keys")   // sha256 -> object key, for a blob not stored under its own name (an upload staged in S3)
	bucketUploads    = []byte("uploads")     // upload key -> JSON uploadRecord
	bucketLinks      = []byte("links")       // sha256(link token) -> encoded linkRecord
	bucketUserLinks  = []byte("user_links")  // owner id, link id -> sha256(link token)

	bucketMessages = []byte("messages") // message id -> JSON messageRecord, 0, its items (message.go)
	bucketInbox    = []byte("inbox")    // receiver id + message id, while pending
	bucketOutbox   = []byte("outbox")   // sender id + message id
	bucketReceived = []byte("received") // receiver id + message id
	bucketInvited  = []byte("invited")  // invitee's email, 0, message id: sends waiting for an account
	bucketClosed   = []byte("closed")   // closed (Unix ns) + message id: decided and expired sends, for the history sweep
	bucketPending  = []byte("pending")  // created (Unix ns) + message id, while pending

	bucketMail              = []byte("mail")               // mail id -> JSON ferry.QueuedMail
	bucketMailDue           = []byte("mail_due")           // next attempt (Unix ns) + mail id, while queued
	bucketContacts          = []byte("contacts")           // owner id + contact id
	bucketNotifications     = []byte("notifications")      // id -> JSON notificationRecord
	bucketUserNotifications = []byte("user_notifications") // user id + notification id
	bucketPhotos            = []byte("photos")             // token -> content type and bytes
	bucketInvites           = []byte("invites")            // sha256(code) -> JSON inviteRecord
	bucketUserInvites       = []byte("user_invites")       // inviter id + created + sha256(code)
	bucketAppPasswords      = []byte("app_passwords")      // user id -> generation of the WebDAV app password
	bucketDeadProps         = []byte("dead_props")         // node id -> a WebDAV client's properties of it
	bucketSendPins          = []byte("send_pins")          // sender id + sha256 -> pins 8 | held 8 (held.go)
	bucketTrash             = []byte("trash")              // node id -> owner id, folders deleted but not yet reclaimed (trash.go)
	bucketCopying           = []byte("copying")            // node id -> owner id, copies being built, not yet linked (copy.go)
	bucketResets            = []byte("resets")             // sha256(code) -> user id 8 | expires 8, password reset codes (reset.go)
	bucketTwoFactor         = []byte("two_factor")         // user id -> JSON twoFactorRecord (twofactor.go)
	bucketSSO               = []byte("sso")                // issuer, 0, subject -> user id (sso.go)
	bucketPasskeys          = []byte("passkeys")           // user id + credential id -> JSON passkeyRecord (passkey.go)
	bucketPasskeyIDs        = []byte("passkey_ids")        // credential id -> user id
	bucketAudit             = []byte("audit")              // event id -> JSON eventRecord (audit.go)
	bucketUserAudit         = []byte("user_audit")         // user id -> the id of its newest event (each event chains to the one before)
	bucketLinkMailed        = []byte("link_mailed")        // sha256(link token) -> when its owner was last mailed of a download (Unix ns)
	bucketRequests          = []byte("requests")           // sha256(request token) -> JSON requestRecord (request.go)
	bucketUserRequests      = []byte("user_requests")      // owner id + request id -> sha256(request token)
	bucketDeliveries        = []byte("deliveries")         // sha256(delivery key) -> JSON deliveryRecord (delivery.go)
	bucketDeliveryFiles     = []byte("delivery_files")     // sha256(delivery key) + path -> size 8 | sha256 32 (delivery.go)
	bucketDeliveryTimes     = []byte("delivery_times")     // started (Unix ns) + sha256(delivery key), for the sweep of unfinished ones
	bucketScans             = []byte("scans")              // sha256 of content -> its scan: "" clean, else the signature found (scan.go)
	bucketUnscanned         = []byte("unscanned")          // sha256 of content held for a scan the scanner could not do yet
	bucketScanHeld          = []byte("scan_held")          // message id, while content it carries waits for a scan
	bucketClusterOutbox     = []byte("cluster_outbox")     // sequence -> JSON Envelope, for another node (remote.go)
	bucketClusterApplied    = []byte("cluster_applied")    // node, 0, sequence -> when: another node's envelopes applied
	bucketRemoteSent        = []byte("remote_sent")        // created (Unix ns) + message id: sends to another node's users
	bucketRemoteIn          = []byte("remote_in")          // node, 0, its message id -> the id here of a send from it
	bucketRemoteContacts    = []byte("remote_contacts")    // owner id + email -> JSON remoteContact: contacts of other nodes

	allBuckets = [][]byte{bucketMeta, bucketUsers, bucketUserEmails, bucketUsage, bucketTokens, bucketUserTokens,
		bucketRoots, bucketNodes, bucketChildren, bucketBlobs, bucketUploads, bucketLinks, bucketUserLinks,
		bucketMessages, bucketInbox, bucketOutbox, bucketReceived, bucketInvited, bucketClosed, bucketPending,
		bucketMail, bucketMailDue, bucketContacts, bucketNotifications, bucketUserNotifications,
		bucketPhotos, bucketInvites, bucketUserInvites, bucketAppPasswords, bucketDeadProps, bucketSendPins, bucketTrash, bucketCopying, bucketResets, bucketBlobKeys, bucketTwoFactor, bucketSSO, bucketPasskeys, bucketPasskeyIDs, bucketAudit, bucketUserAudit, bucketLinkMailed, bucketRequests, bucketUserRequests,
		bucketDeliveries, bucketDeliveryFiles, bucketDeliveryTimes, bucketScans, bucketUnscanned, bucketScanHeld,
		bucketClusterOutbox, bucketClusterApplied, bucketRemoteSent, bucketRemoteIn, bucketRemoteContacts,
		bucketMovingOut, bucketMovedSecrets, bucketMovedUsers, bucketMovedSends, bucketMovedIn}

	keySchemaVersion = []byte("schema_version")
	keyBlobsWhere    = []byte("blobs_where")         // "local" or "s3:bucket/prefix"
	keyAppSecret     = []byte("app_password_secret") // 32 random bytes: the key app passwords derive from
	keyNode          = []byte("cluster_node")        // this node's id, in cluster mode (Options.Node)
)

// The store implements every service of ferry's domain.
var (
	_ ferry.UserService    = (*DB)(nil)
	_ ferry.FileService    = (*DB)(nil)
	_ ferry.UploadService  = (*DB)(nil)
	_ ferry.MessageService = (*DB)(nil)
	_ ferry.SocialService  = (*DB)(nil)
	_ ferry.DavService     = (*DB)(nil)
	_ ferry.RequestService = (*DB)(nil)
)

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("the database is locked by another process")

// Options tune Open. The zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil. Tests inject a fake one.
	Now func() time.Time
	// LockTimeout bounds the wait for another process's lock on the file;
	// one second when zero.
	LockTimeout time.Duration
	// TokenIdleTimeout is how long a token lives without use; 15 minutes
	// when zero.
	TokenIdleTimeout time.Duration
	// UploadIdleTimeout is how long a resumable upload lives without a
	// chunk; 15 minutes when zero.
	UploadIdleTimeout time.Duration
	// UploadCheckpoint is how many bytes of one long chunk may arrive
	// before the upload makes them durable and records them, so that a
	// crash during the request loses at most that much; 64 MiB when zero.
	UploadCheckpoint int64
	// SendExpireAfter is how long a send waits to be accepted or declined
	// before it expires; 30 days when zero.
	SendExpireAfter time.Duration
	// KeepHistory is how long a decided or expired send stays in the
	// outbox and the receiver's history; 90 days when zero, negative for
	// ever.
	KeepHistory time.Duration
	// KeepAudit is how long an event stays in the audit log; 8760 hours
	// (a year) when zero.
	KeepAudit time.Duration
	// DownloadNotice makes the mail that tells a link's owner of a
	// download (mail_on_download); none when nil.
	DownloadNotice func(owner *ferry.User, file string, at time.Time, ip string) ferry.Mail
	// DecisionNotice makes the mail that tells a sender what became of
	// their sends (queued in the transaction that decides); none when nil.
	DecisionNotice func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail
	// MailQueued is called after a commit that queued mail (to wake the
	// mailer); it must not block.
	MailQueued func()
	// Logger receives failures that happen after a change has committed
	// (a blob file that could not be removed); discarded when nil.
	Logger *slog.Logger
	// ObserveCommit, when set, is told of each write transaction: how many
	// calls it grouped and how long it took, fsync included.
	ObserveCommit func(calls int, d time.Duration)
	// KeepMail is how long sent and failed mail stays in the outbox (for
	// `ferry mail list`); 30 days when zero.
	KeepMail time.Duration
	// Packages are the quota packages; a user's limits are their
	// package's, or their own overrides (quota.Packages.For).
	Packages quota.Packages
	// MaxFileSize bounds a file's size; 0 is no limit.
	MaxFileSize int64
	// Send bounds a send's files and a receiver's pending messages;
	// Invite a user's invitations per day, and a code's life.
	Send   ferry.SendLimits
	Invite ferry.InviteLimits
	// S3, when set, keeps blobs in an S3-compatible bucket instead of the
	// data directory; Open fails when the bucket does not answer.
	S3 *S3
	// Node is this node's id in cluster mode: the envelopes it writes for
	// other nodes say they are from it (remote.go).
	Node string
	// TokenPrefix starts every token, code and key the store makes (a
	// node's id and a dot, in cluster mode: cluster.NodeOf reads it), so
	// that any node can tell whose it is.
	TokenPrefix string
	// Scan is what is scanned for malware, and how ([scan]).
	Scan ferry.ScanPolicy
	// MinFreeSpace is the free space of the data dir's file system that
	// file content may not take: uploads that would leave less get
	// STORAGE_FULL, so that the database always has room to record deletes
	// and other changes. Zero: no reserve.
	MinFreeSpace int64
}

// DB is ferry's store. Its state beyond the database file is grouped by
// concern, each in the file of that concern.
type DB struct {
	bolt   *bolt.DB
	dir    string
	now    func() time.Time
	logger *slog.Logger

	rules     rules      // the limits the store applies (rules.go)
	commits   committer  // group commit of writes (commit.go)
	tokens    tokenCache // tokens' last uses and authentications (token.go)
	blobs     blobState  // blob locks, backups, the disk reserve (blob.go)
	uploads   uploadState
	mail      mailState
	passwords passwordState
	secret    secretState // the app password secret (apppassword.go)
	gate      gate        // accounts being moved, and their requests under way (move.go)
	nameHints nameHints   // guesses for freeName (tree.go)
	userMemo  sync.Map    // user id -> *decodedUser (user.go)

	downloadNotice func(owner *ferry.User, file string, at time.Time, ip string) ferry.Mail
	// decisionNotice makes the mail that tells a sender what became of
	// their sends (outcome.go); nil sends none.
	decisionNotice func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail
	observeCommit  func(calls int, d time.Duration)
	tokenPrefix    string // Options.TokenPrefix
	node           string // Options.Node

	leaveTrash       bool // tests: leave deleted folders to Reclaim, as a crash would
	cutCopiesForTest bool // tests: end large copies after one step, as a crash would
}

// Open opens or creates the database in dir, creating dir (0700) and every
// bucket. It returns an error wrapping ErrLocked when another process holds
// the file past opts.LockTimeout.
func Open(dir string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if opts.TokenIdleTimeout == 0 {
		opts.TokenIdleTimeout = 15 * time.Minute
	}
	if opts.UploadIdleTimeout == 0 {
		opts.UploadIdleTimeout = 15 * time.Minute
	}
	if opts.UploadCheckpoint <= 0 {
		opts.UploadCheckpoint = DefaultUploadCheckpoint
	}
	if opts.KeepAudit == 0 {
		opts.KeepAudit = 8760 * time.Hour
	}
	if opts.KeepHistory == 0 {
		opts.KeepHistory = 90 * 24 * time.Hour
	}
	if opts.SendExpireAfter == 0 {
		opts.SendExpireAfter = 30 * 24 * time.Hour
	}
	if opts.KeepMail == 0 {
		opts.KeepMail = 30 * 24 * time.Hour
	}
	if opts.MailQueued == nil {
		opts.MailQueued = func() {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	bs := blobs.NewLocal(dir)
	var grace time.Duration
	if opts.S3 != nil {
		s3, err := blobs.NewS3(context.Background(), *opts.S3)
		if err != nil {
			return nil, err
		}
		bs, grace = s3, opts.S3.OrphanGrace
	}
	path := filepath.Join(dir, FileName)
	// A large initial map (address space, not memory) makes remaps rare: a
	// remap waits for every read transaction, and a backup's can be long.
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, InitialMmapSize: 1 << 30})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (is ferry serve running on it?)", path, ErrLocked)
	} else if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{
		bolt:           b,
		dir:            dir,
		observeCommit:  opts.ObserveCommit,
		tokenPrefix:    opts.TokenPrefix,
		node:           opts.Node,
		decisionNotice: opts.DecisionNotice,
		downloadNotice: opts.DownloadNotice,
		now:            opts.Now,
		logger:         opts.Logger,
		rules: rules{packages: opts.Packages, maxFile: opts.MaxFileSize, send: opts.Send, invite: opts.Invite,
			sendExpire: opts.SendExpireAfter, keepHistory: opts.KeepHistory, keepAudit: opts.KeepAudit, scan: opts.Scan},
		tokens:    tokenCache{idle: opts.TokenIdleTimeout, touch: min(opts.TokenIdleTimeout/16, time.Minute)},
		blobs:     blobState{store: bs, grace: grace, minFree: opts.MinFreeSpace},
		uploads:   uploadState{idle: opts.UploadIdleTimeout, checkpoint: opts.UploadCheckpoint},
		mail:      mailState{queued: opts.MailQueued, keep: opts.KeepMail},
		passwords: passwordState{sem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))},
	}
	db.gate.init()
	if err = db.init(); err == nil {
		err = db.makeBlobDirs()
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.loadMoved()
	return db, nil
}

func (db *DB) init() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if db.node != "" {
			if err := meta.Put(keyNode, []byte(db.node)); err != nil {
				return err
			}
		}
		if v := meta.Get(keySchemaVersion); v != nil {
			got := binary.BigEndian.Uint64(v)
			if got > SchemaVersion {
				return fmt.Errorf("schema version %d is newer than this ferry understands (%d)", got, SchemaVersion)
			}
			// First: the other migrations read messages in the layout of now.
			if got < 6 {
				if err := migrateItems(tx); err != nil {
					return err
				}
			}
			if got < 2 {
				if err := migrateSendPins(tx); err != nil {
					return err
				}
			}
			if got < 3 {
				if err := migrateLinks(tx, db.now().UnixNano()); err != nil {
					return err
				}
			}
			if got < 4 {
				if err := migrateReceived(tx); err != nil {
					return err
				}
			}
			if got < 5 {
				if err := migrateClosed(tx); err != nil {
					return err
				}
			}
		}
		if err := checkBlobsWhere(tx, db.blobs.store.Where()); err != nil {
			return err
		}
		// Copies that were being built when the last process ended will
		// never be linked: they go to the trash, for the sweep.
		if err := abandonCopies(tx); err != nil {
			return err
		}
		return meta.Put(keySchemaVersion, itob(SchemaVersion))
	})
}

// checkBlobsWhere refuses to open a store whose blobs are somewhere other
// than where the configuration puts them (which would show every file as
// missing, and let new ones land apart from the old), and records where
// they are. A store from before blobs could be elsewhere has them in the
// data directory.
func checkBlobsWhere(tx *bolt.Tx, where string) error {
	meta := tx.Bucket(bucketMeta)
	was := string(meta.Get(keyBlobsWhere))
	if was == "" {
		if k, _ := tx.Bucket(bucketBlobs).Cursor().First(); k != nil {
			was = "local"
		}
	}
	if was != "" && was != where {
		hint := "set [blobs] in the configuration to where they are"
		if was == "local" {
			hint = "ferry blobs migrate --to s3 moves them"
		}
		return fmt.Errorf("this store's files are %s, but the configuration puts them %s: %s", describeWhere(was), describeWhere(where), hint)
	}
	return meta.Put(keyBlobsWhere, []byte(where))
}

// describeWhere says a blob store's Where() in words.
func describeWhere(where string) string {
	if bucket, ok := strings.CutPrefix(where, "s3:"); ok {
		bucket, prefix, _ := strings.Cut(bucket, "/")
		return fmt.Sprintf("in the S3 bucket %q (prefix %q)", bucket, prefix)
	}
	return "in the data directory"
}

// Close closes the database.
func (db *DB) Close() error {
	return db.bolt.Close()
}

// Ping reports whether the database answers a read transaction.
func (db *DB) Ping(ctx context.Context) error {
	return db.bolt.View(func(*bolt.Tx) error { return nil })
}

// Check runs bbolt's consistency check of the file and returns every problem
// it finds, joined.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// log reports a failure that the caller cannot return, because the change
// it belongs to has committed.
func (db *DB) log(what string, err error) {
	db.logger.Error("store: "+what, "err", err)
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	return binary.BigEndian.Uint64(b)
}

// Package mock has a fake of ferry's root services, for the front ends'
// handler tests: each method calls the function of its name with Fn after
// it, and a method whose function is not set panics, failing the test
// that made a call it did not expect. (As github.com/benbjohnson/wtf
// keeps mock/.)
package mock

import (
	"context"
	"io"
	"time"

	"github.com/ferryhq/ferry"
)

// Store is every root service: what server.Store is, and the web app uses.
type Store struct {
	CreateUserFn            func(ctx context.Context, nu ferry.NewUser) (*ferry.User, error)
	CreateInvitedUserFn     func(ctx context.Context, nu ferry.NewUser, code string) (*ferry.User, error)
	InvitationFn            func(ctx context.Context, code string) (ferry.Invitation, error)
	CheckPasswordFn         func(ctx context.Context, email, password string) (*ferry.User, error)
	CreateTokenFn           func(ctx context.Context, userID uint64) (string, error)
	AuthenticateFn          func(ctx context.Context, token string) (*ferry.User, error)
	RevokeTokenFn           func(ctx context.Context, token string) error
	ForgotPasswordFn        func(ctx context.Context, email string, life time.Duration, mail func(u *ferry.User, code string) ferry.Mail) error
	ResetPasswordFn         func(ctx context.Context, code, password, otp string) (*ferry.User, error)
	DeleteAccountFn         func(ctx context.Context, userID uint64, password string) error
	RevokeUserTokensFn      func(ctx context.Context, userID uint64, keep string) error
	CreatePersonalTokenFn   func(ctx context.Context, userID uint64, name string, life time.Duration) (uint64, string, error)
	PersonalTokensFn        func(ctx context.Context, userID uint64) ([]ferry.PersonalToken, error)
	RevokePersonalTokenFn   func(ctx context.Context, userID, id uint64) error
	SetupTwoFactorFn        func(ctx context.Context, userID uint64, password, issuer string) (string, string, error)
	TwoFactorSetupFn        func(ctx context.Context, userID uint64) (string, error)
	EnableTwoFactorFn       func(ctx context.Context, userID uint64, keep, code string) ([]string, error)
	RenewRecoveryCodesFn    func(ctx context.Context, userID uint64, keep, password, code string) ([]string, error)
	DisableTwoFactorFn      func(ctx context.Context, userID uint64, keep, password, code string) error
	CheckSecondFactorFn     func(ctx context.Context, userID uint64, code string) error
	UserBySSOFn             func(ctx context.Context, l ferry.SSOLink) (*ferry.User, error)
	CreateSSOUserFn         func(ctx context.Context, nu ferry.NewUser, l ferry.SSOLink) (*ferry.User, error)
	LinkSSOFn               func(ctx context.Context, userID uint64, l ferry.SSOLink) error
	UnlinkSSOFn             func(ctx context.Context, userID uint64) error
	SetPackageFn            func(ctx context.Context, userID uint64, pkg string) error
	AddPasskeyFn            func(ctx context.Context, userID uint64, p ferry.Passkey) error
	PasskeysFn              func(ctx context.Context, userID uint64) ([]ferry.Passkey, error)
	RemovePasskeyFn         func(ctx context.Context, userID uint64, id []byte) error
	PasskeyOwnerFn          func(ctx context.Context, id []byte) (*ferry.User, ferry.Passkey, error)
	UsePasskeyFn            func(ctx context.Context, userID uint64, id []byte, signCount uint32) error
	ActivityFn              func(ctx context.Context, f ferry.AuditFilter) ([]ferry.Event, error)
	CreateRequestFn         func(ctx context.Context, userID uint64, r ferry.NewFileRequest) (uint64, string, error)
	RequestsFn              func(ctx context.Context, userID uint64) ([]ferry.FileRequest, error)
	RevokeRequestFn         func(ctx context.Context, userID, id uint64) error
	OpenRequestFn           func(ctx context.Context, token, password string) (ferry.OpenedRequest, error)
	StartDeliveryFn         func(ctx context.Context, token, password, name, email string) (string, error)
	DeliverFn               func(ctx context.Context, d ferry.Delivery, name string, body io.Reader, size int64) (ferry.Delivered, error)
	FinishDeliveryFn        func(ctx context.Context, d ferry.Delivery, notice func(owner *ferry.User, title string, m ferry.Message) ferry.Mail) (files int, size int64, err error)
	PingFn                  func(ctx context.Context) error
	QuotaFn                 func(ctx context.Context, userID uint64) (ferry.Quota, error)
	ChangeSettingsFn        func(ctx context.Context, userID uint64, keep string, ch ferry.SettingsChange) error
	SetPhotoFn              func(ctx context.Context, userID uint64, p ferry.Photo) (string, error)
	RemovePhotoFn           func(ctx context.Context, userID uint64) error
	PhotoByTokenFn          func(ctx context.Context, token string) (ferry.Photo, error)
	ListFn                  func(ctx context.Context, userID uint64, names []string, each func(name []byte, dir bool, size int64)) error
	MkdirFn                 func(ctx context.Context, userID uint64, names []string) error
	MoveFn                  func(ctx context.Context, userID uint64, t ferry.Transfer) error
	CopyFn                  func(ctx context.Context, userID uint64, t ferry.Transfer) error
	DeleteFn                func(ctx context.Context, userID uint64, list [][]string) ([]error, error)
	SizesFn                 func(ctx context.Context, userID uint64, list [][]string) ([]int64, error)
	StatFn                  func(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error)
	OpenBlobFn              func(ctx context.Context, sha256 string, size int64) (ferry.Blob, error)
	BlobURLFn               func(ctx context.Context, sha256, name string, expiry time.Duration) (string, error)
	PutFileFn               func(ctx context.Context, p ferry.PutRequest) (ferry.FileInfo, error)
	CreateLinkFn            func(ctx context.Context, userID uint64, names []string, expires time.Time, opts ferry.LinkOptions) (string, uint64, error)
	OpenLinkFn              func(ctx context.Context, token, password string) (ferry.OpenedLink, error)
	CountDownloadFn         func(ctx context.Context, token string) error
	LinksFn                 func(ctx context.Context, userID uint64) ([]ferry.Link, error)
	RevokeLinkFn            func(ctx context.Context, userID, id uint64) error
	CreateUploadFn          func(ctx context.Context, userID uint64, names []string, size int64, resolve bool) (key, path string, err error)
	WriteChunkFn            func(ctx context.Context, c ferry.Chunk) (int64, error)
	UploadStatusFn          func(ctx context.Context, userID uint64, key string) (received, size int64, err error)
	FinalizeUploadFn        func(ctx context.Context, userID uint64, key string) (ferry.FileInfo, error)
	SendFn                  func(ctx context.Context, senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error)
	SendInvitedFn           func(ctx context.Context, senderID uint64, email string, sources []ferry.SendSource, mail func(code string, destinations []string, total int64, expires time.Time) ferry.Mail) ([]uint64, error)
	InboxFn                 func(ctx context.Context, receiverID uint64) ([]ferry.Message, error)
	WaitingFn               func(ctx context.Context, receiverID uint64) (int, error)
	OutboxFn                func(ctx context.Context, senderID uint64) ([]ferry.Message, error)
	ReceivedFn              func(ctx context.Context, receiverID uint64, limit int) ([]ferry.Message, error)
	ContentsFn              func(ctx context.Context, userID, id uint64, offset, limit int) (ferry.Message, []ferry.SentItem, error)
	UpdateInboxFn           func(ctx context.Context, receiverID uint64, decisions []ferry.Decision) ([]error, error)
	AddContactsFn           func(ctx context.Context, ownerID uint64, emails []string, notice ferry.ContactNotice) ([]error, error)
	ContactsFn              func(ctx context.Context, ownerID uint64, filter string) ([]ferry.Contact, error)
	RemoveContactFn         func(ctx context.Context, ownerID uint64, email string) error
	NotificationsFn         func(ctx context.Context, userID uint64) ([]ferry.Notification, error)
	MarkNotificationsReadFn func(ctx context.Context, userID uint64, ids []uint64) ([]error, error)
	InviteFn                func(ctx context.Context, inviterID uint64, emails []string, mail func(email, code string) ferry.Mail) ([]error, error)
	AppPasswordFn           func(ctx context.Context, userID uint64) (string, error)
	ResetAppPasswordFn      func(ctx context.Context, userID uint64) (string, error)
	CheckAppPasswordFn      func(ctx context.Context, email, password string) (*ferry.User, error)
	LookupFn                func(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error)
	ReadDirFn               func(ctx context.Context, userID uint64, names []string) ([]ferry.FileInfo, error)
	MakeFolderFn            func(ctx context.Context, userID uint64, names []string, replace bool) error
	DeadPropsFn             func(ctx context.Context, userID uint64, names []string) ([]byte, error)
	PatchDeadPropsFn        func(ctx context.Context, userID uint64, names []string, patch func(old []byte) ([]byte, error)) error
}

// CreateUser calls CreateUserFn.
func (s *Store) CreateUser(ctx context.Context, nu ferry.NewUser) (*ferry.User, error) {
	if s.CreateUserFn == nil {
		panic("mock: CreateUser was not expected")
	}
	return s.CreateUserFn(ctx, nu)
}

// CreateInvitedUser calls CreateInvitedUserFn.
func (s *Store) CreateInvitedUser(ctx context.Context, nu ferry.NewUser, code string) (*ferry.User, error) {
	if s.CreateInvitedUserFn == nil {
		panic("mock: CreateInvitedUser was not expected")
	}
	return s.CreateInvitedUserFn(ctx, nu, code)
}

// Invitation calls InvitationFn.
func (s *Store) Invitation(ctx context.Context, code string) (ferry.Invitation, error) {
	if s.InvitationFn == nil {
		panic("mock: Invitation was not expected")
	}
	return s.InvitationFn(ctx, code)
}

// CheckPassword calls CheckPasswordFn.
func (s *Store) CheckPassword(ctx context.Context, email, password string) (*ferry.User, error) {
	if s.CheckPasswordFn == nil {
		panic("mock: CheckPassword was not expected")
	}
	return s.CheckPasswordFn(ctx, email, password)
}

// CreateToken calls CreateTokenFn.
func (s *Store) CreateToken(ctx context.Context, userID uint64) (string, error) {
	if s.CreateTokenFn == nil {
		panic("mock: CreateToken was not expected")
	}
	return s.CreateTokenFn(ctx, userID)
}

// Authenticate calls AuthenticateFn.
func (s *Store) Authenticate(ctx context.Context, token string) (*ferry.User, error) {
	if s.AuthenticateFn == nil {
		panic("mock: Authenticate was not expected")
	}
	return s.AuthenticateFn(ctx, token)
}

// RevokeToken calls RevokeTokenFn.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	if s.RevokeTokenFn == nil {
		panic("mock: RevokeToken was not expected")
	}
	return s.RevokeTokenFn(ctx, token)
}

// ForgotPassword calls ForgotPasswordFn.
func (s *Store) ForgotPassword(ctx context.Context, email string, life time.Duration, mail func(u *ferry.User, code string) ferry.Mail) error {
	if s.ForgotPasswordFn == nil {
		panic("mock: ForgotPassword was not expected")
	}
	return s.ForgotPasswordFn(ctx, email, life, mail)
}

// ResetPassword calls ResetPasswordFn.
func (s *Store) ResetPassword(ctx context.Context, code, password, otp string) (*ferry.User, error) {
	if s.ResetPasswordFn == nil {
		panic("mock: ResetPassword was not expected")
	}
	return s.ResetPasswordFn(ctx, code, password, otp)
}

// DeleteAccount calls DeleteAccountFn.
func (s *Store) DeleteAccount(ctx context.Context, userID uint64, password string) error {
	if s.DeleteAccountFn == nil {
		panic("mock: DeleteAccount was not expected")
	}
	return s.DeleteAccountFn(ctx, userID, password)
}

// RevokeUserTokens calls RevokeUserTokensFn.
func (s *Store) RevokeUserTokens(ctx context.Context, userID uint64, keep string) error {
	if s.RevokeUserTokensFn == nil {
		panic("mock: RevokeUserTokens was not expected")
	}
	return s.RevokeUserTokensFn(ctx, userID, keep)
}

// Ping calls PingFn.
func (s *Store) Ping(ctx context.Context) error {
	if s.PingFn == nil {
		panic("mock: Ping was not expected")
	}
	return s.PingFn(ctx)
}

// Quota calls QuotaFn.
func (s *Store) Quota(ctx context.Context, userID uint64) (ferry.Quota, error) {
	if s.QuotaFn == nil {
		panic("mock: Quota was not expected")
	}
	return s.QuotaFn(ctx, userID)
}

// ChangeSettings calls ChangeSettingsFn.
func (s *Store) ChangeSettings(ctx context.Context, userID uint64, keep string, ch ferry.SettingsChange) error {
	if s.ChangeSettingsFn == nil {
		panic("mock: ChangeSettings was not expected")
	}
	return s.ChangeSettingsFn(ctx, userID, keep, ch)
}

// SetPhoto calls SetPhotoFn.
func (s *Store) SetPhoto(ctx context.Context, userID uint64, p ferry.Photo) (string, error) {
	if s.SetPhotoFn == nil {
		panic("mock: SetPhoto was not expected")
	}
	return s.SetPhotoFn(ctx, userID, p)
}

// RemovePhoto calls RemovePhotoFn.
func (s *Store) RemovePhoto(ctx context.Context, userID uint64) error {
	if s.RemovePhotoFn == nil {
		panic("mock: RemovePhoto was not expected")
	}
	return s.RemovePhotoFn(ctx, userID)
}

// PhotoByToken calls PhotoByTokenFn.
func (s *Store) PhotoByToken(ctx context.Context, token string) (ferry.Photo, error) {
	if s.PhotoByTokenFn == nil {
		panic("mock: PhotoByToken was not expected")
	}
	return s.PhotoByTokenFn(ctx, token)
}

// List calls ListFn.
func (s *Store) List(ctx context.Context, userID uint64, names []string, each func(name []byte, dir bool, size int64)) error {
	if s.ListFn == nil {
		panic("mock: List was not expected")
	}
	return s.ListFn(ctx, userID, names, each)
}

// Mkdir calls MkdirFn.
func (s *Store) Mkdir(ctx context.Context, userID uint64, names []string) error {
	if s.MkdirFn == nil {
		panic("mock: Mkdir was not expected")
	}
	return s.MkdirFn(ctx, userID, names)
}

// Move calls MoveFn.
func (s *Store) Move(ctx context.Context, userID uint64, t ferry.Transfer) error {
	if s.MoveFn == nil {
		panic("mock: Move was not expected")
	}
	return s.MoveFn(ctx, userID, t)
}

// Copy calls CopyFn.
func (s *Store) Copy(ctx context.Context, userID uint64, t ferry.Transfer) error {
	if s.CopyFn == nil {
		panic("mock: Copy was not expected")
	}
	return s.CopyFn(ctx, userID, t)
}

// Delete calls DeleteFn.
func (s *Store) Delete(ctx context.Context, userID uint64, list [][]string) ([]error, error) {
	if s.DeleteFn == nil {
		panic("mock: Delete was not expected")
	}
	return s.DeleteFn(ctx, userID, list)
}

// Sizes calls SizesFn.
func (s *Store) Sizes(ctx context.Context, userID uint64, list [][]string) ([]int64, error) {
	if s.SizesFn == nil {
		panic("mock: Sizes was not expected")
	}
	return s.SizesFn(ctx, userID, list)
}

// Stat calls StatFn.
func (s *Store) Stat(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error) {
	if s.StatFn == nil {
		panic("mock: Stat was not expected")
	}
	return s.StatFn(ctx, userID, names)
}

// OpenBlob calls OpenBlobFn.
func (s *Store) OpenBlob(ctx context.Context, sha256 string, size int64) (ferry.Blob, error) {
	if s.OpenBlobFn == nil {
		panic("mock: OpenBlob was not expected")
	}
	return s.OpenBlobFn(ctx, sha256, size)
}

// BlobURL calls BlobURLFn.
func (s *Store) BlobURL(ctx context.Context, sha256, name string, expiry time.Duration) (string, error) {
	if s.BlobURLFn == nil {
		panic("mock: BlobURL was not expected")
	}
	return s.BlobURLFn(ctx, sha256, name, expiry)
}

// PutFile calls PutFileFn.
func (s *Store) PutFile(ctx context.Context, p ferry.PutRequest) (ferry.FileInfo, error) {
	if s.PutFileFn == nil {
		panic("mock: PutFile was not expected")
	}
	return s.PutFileFn(ctx, p)
}

// CreateLink calls CreateLinkFn.
func (s *Store) CreateLink(ctx context.Context, userID uint64, names []string, expires time.Time, opts ferry.LinkOptions) (string, uint64, error) {
	if s.CreateLinkFn == nil {
		panic("mock: CreateLink was not expected")
	}
	return s.CreateLinkFn(ctx, userID, names, expires, opts)
}

// OpenLink calls OpenLinkFn.
func (s *Store) OpenLink(ctx context.Context, token, password string) (ferry.OpenedLink, error) {
	if s.OpenLinkFn == nil {
		panic("mock: OpenLink was not expected")
	}
	return s.OpenLinkFn(ctx, token, password)
}

// CountDownload calls CountDownloadFn.
func (s *Store) CountDownload(ctx context.Context, token string) error {
	if s.CountDownloadFn == nil {
		panic("mock: CountDownload was not expected")
	}
	return s.CountDownloadFn(ctx, token)
}

// Links calls LinksFn.
func (s *Store) Links(ctx context.Context, userID uint64) ([]ferry.Link, error) {
	if s.LinksFn == nil {
		panic("mock: Links was not expected")
	}
	return s.LinksFn(ctx, userID)
}

// RevokeLink calls RevokeLinkFn.
func (s *Store) RevokeLink(ctx context.Context, userID, id uint64) error {
	if s.RevokeLinkFn == nil {
		panic("mock: RevokeLink was not expected")
	}
	return s.RevokeLinkFn(ctx, userID, id)
}

// CreateUpload calls CreateUploadFn.
func (s *Store) CreateUpload(ctx context.Context, userID uint64, names []string, size int64, resolve bool) (key, path string, err error) {
	if s.CreateUploadFn == nil {
		panic("mock: CreateUpload was not expected")
	}
	return s.CreateUploadFn(ctx, userID, names, size, resolve)
}

// WriteChunk calls WriteChunkFn.
func (s *Store) WriteChunk(ctx context.Context, c ferry.Chunk) (int64, error) {
	if s.WriteChunkFn == nil {
		panic("mock: WriteChunk was not expected")
	}
	return s.WriteChunkFn(ctx, c)
}

// UploadStatus calls UploadStatusFn.
func (s *Store) UploadStatus(ctx context.Context, userID uint64, key string) (received, size int64, err error) {
	if s.UploadStatusFn == nil {
		panic("mock: UploadStatus was not expected")
	}
	return s.UploadStatusFn(ctx, userID, key)
}

// FinalizeUpload calls FinalizeUploadFn.
func (s *Store) FinalizeUpload(ctx context.Context, userID uint64, key string) (ferry.FileInfo, error) {
	if s.FinalizeUploadFn == nil {
		panic("mock: FinalizeUpload was not expected")
	}
	return s.FinalizeUploadFn(ctx, userID, key)
}

// Send calls SendFn.
func (s *Store) Send(ctx context.Context, senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	if s.SendFn == nil {
		panic("mock: Send was not expected")
	}
	return s.SendFn(ctx, senderID, to, sources, notice)
}

// SendInvited calls SendInvitedFn.
func (s *Store) SendInvited(ctx context.Context, senderID uint64, email string, sources []ferry.SendSource, mail func(code string, destinations []string, total int64, expires time.Time) ferry.Mail) ([]uint64, error) {
	if s.SendInvitedFn == nil {
		panic("mock: SendInvited was not expected")
	}
	return s.SendInvitedFn(ctx, senderID, email, sources, mail)
}

// Inbox calls InboxFn.
func (s *Store) Inbox(ctx context.Context, receiverID uint64) ([]ferry.Message, error) {
	if s.InboxFn == nil {
		panic("mock: Inbox was not expected")
	}
	return s.InboxFn(ctx, receiverID)
}

// Waiting calls WaitingFn.
func (s *Store) Waiting(ctx context.Context, receiverID uint64) (int, error) {
	if s.WaitingFn == nil {
		panic("mock: Waiting was not expected")
	}
	return s.WaitingFn(ctx, receiverID)
}

// Outbox calls OutboxFn.
func (s *Store) Outbox(ctx context.Context, senderID uint64) ([]ferry.Message, error) {
	if s.OutboxFn == nil {
		panic("mock: Outbox was not expected")
	}
	return s.OutboxFn(ctx, senderID)
}

// Received calls ReceivedFn.
func (s *Store) Received(ctx context.Context, receiverID uint64, limit int) ([]ferry.Message, error) {
	if s.ReceivedFn == nil {
		panic("mock: Received was not expected")
	}
	return s.ReceivedFn(ctx, receiverID, limit)
}

// Contents calls ContentsFn.
func (s *Store) Contents(ctx context.Context, userID, id uint64, offset, limit int) (ferry.Message, []ferry.SentItem, error) {
	if s.ContentsFn == nil {
		panic("mock: Contents was not expected")
	}
	return s.ContentsFn(ctx, userID, id, offset, limit)
}

// UpdateInbox calls UpdateInboxFn.
func (s *Store) UpdateInbox(ctx context.Context, receiverID uint64, decisions []ferry.Decision) ([]error, error) {
	if s.UpdateInboxFn == nil {
		panic("mock: UpdateInbox was not expected")
	}
	return s.UpdateInboxFn(ctx, receiverID, decisions)
}

// AddContacts calls AddContactsFn.
func (s *Store) AddContacts(ctx context.Context, ownerID uint64, emails []string, notice ferry.ContactNotice) ([]error, error) {
	if s.AddContactsFn == nil {
		panic("mock: AddContacts was not expected")
	}
	return s.AddContactsFn(ctx, ownerID, emails, notice)
}

// Contacts calls ContactsFn.
func (s *Store) Contacts(ctx context.Context, ownerID uint64, filter string) ([]ferry.Contact, error) {
	if s.ContactsFn == nil {
		panic("mock: Contacts was not expected")
	}
	return s.ContactsFn(ctx, ownerID, filter)
}

// RemoveContact calls RemoveContactFn.
func (s *Store) RemoveContact(ctx context.Context, ownerID uint64, email string) error {
	if s.RemoveContactFn == nil {
		panic("mock: RemoveContact was not expected")
	}
	return s.RemoveContactFn(ctx, ownerID, email)
}

// Notifications calls NotificationsFn.
func (s *Store) Notifications(ctx context.Context, userID uint64) ([]ferry.Notification, error) {
	if s.NotificationsFn == nil {
		panic("mock: Notifications was not expected")
	}
	return s.NotificationsFn(ctx, userID)
}

// MarkNotificationsRead calls MarkNotificationsReadFn.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID uint64, ids []uint64) ([]error, error) {
	if s.MarkNotificationsReadFn == nil {
		panic("mock: MarkNotificationsRead was not expected")
	}
	return s.MarkNotificationsReadFn(ctx, userID, ids)
}

// Invite calls InviteFn.
func (s *Store) Invite(ctx context.Context, inviterID uint64, emails []string, mail func(email, code string) ferry.Mail) ([]error, error) {
	if s.InviteFn == nil {
		panic("mock: Invite was not expected")
	}
	return s.InviteFn(ctx, inviterID, emails, mail)
}

// AppPassword calls AppPasswordFn.
func (s *Store) AppPassword(ctx context.Context, userID uint64) (string, error) {
	if s.AppPasswordFn == nil {
		panic("mock: AppPassword was not expected")
	}
	return s.AppPasswordFn(ctx, userID)
}

// ResetAppPassword calls ResetAppPasswordFn.
func (s *Store) ResetAppPassword(ctx context.Context, userID uint64) (string, error) {
	if s.ResetAppPasswordFn == nil {
		panic("mock: ResetAppPassword was not expected")
	}
	return s.ResetAppPasswordFn(ctx, userID)
}

// CheckAppPassword calls CheckAppPasswordFn.
func (s *Store) CheckAppPassword(ctx context.Context, email, password string) (*ferry.User, error) {
	if s.CheckAppPasswordFn == nil {
		panic("mock: CheckAppPassword was not expected")
	}
	return s.CheckAppPasswordFn(ctx, email, password)
}

// Lookup calls LookupFn.
func (s *Store) Lookup(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error) {
	if s.LookupFn == nil {
		panic("mock: Lookup was not expected")
	}
	return s.LookupFn(ctx, userID, names)
}

// ReadDir calls ReadDirFn.
func (s *Store) ReadDir(ctx context.Context, userID uint64, names []string) ([]ferry.FileInfo, error) {
	if s.ReadDirFn == nil {
		panic("mock: ReadDir was not expected")
	}
	return s.ReadDirFn(ctx, userID, names)
}

// MakeFolder calls MakeFolderFn.
func (s *Store) MakeFolder(ctx context.Context, userID uint64, names []string, replace bool) error {
	if s.MakeFolderFn == nil {
		panic("mock: MakeFolder was not expected")
	}
	return s.MakeFolderFn(ctx, userID, names, replace)
}

// DeadProps calls DeadPropsFn.
func (s *Store) DeadProps(ctx context.Context, userID uint64, names []string) ([]byte, error) {
	if s.DeadPropsFn == nil {
		panic("mock: DeadProps was not expected")
	}
	return s.DeadPropsFn(ctx, userID, names)
}

// PatchDeadProps calls PatchDeadPropsFn.
func (s *Store) PatchDeadProps(ctx context.Context, userID uint64, names []string, patch func(old []byte) ([]byte, error)) error {
	if s.PatchDeadPropsFn == nil {
		panic("mock: PatchDeadProps was not expected")
	}
	return s.PatchDeadPropsFn(ctx, userID, names, patch)
}

var (
	_ ferry.UserService    = (*Store)(nil)
	_ ferry.FileService    = (*Store)(nil)
	_ ferry.UploadService  = (*Store)(nil)
	_ ferry.MessageService = (*Store)(nil)
	_ ferry.SocialService  = (*Store)(nil)
	_ ferry.DavService     = (*Store)(nil)
)

// CreatePersonalToken calls CreatePersonalTokenFn.
func (s *Store) CreatePersonalToken(ctx context.Context, userID uint64, name string, life time.Duration) (uint64, string, error) {
	if s.CreatePersonalTokenFn == nil {
		panic("mock: CreatePersonalToken was not expected")
	}
	return s.CreatePersonalTokenFn(ctx, userID, name, life)
}

// PersonalTokens calls PersonalTokensFn.
func (s *Store) PersonalTokens(ctx context.Context, userID uint64) ([]ferry.PersonalToken, error) {
	if s.PersonalTokensFn == nil {
		panic("mock: PersonalTokens was not expected")
	}
	return s.PersonalTokensFn(ctx, userID)
}

// RevokePersonalToken calls RevokePersonalTokenFn.
func (s *Store) RevokePersonalToken(ctx context.Context, userID, id uint64) error {
	if s.RevokePersonalTokenFn == nil {
		panic("mock: RevokePersonalToken was not expected")
	}
	return s.RevokePersonalTokenFn(ctx, userID, id)
}

// SetupTwoFactor calls SetupTwoFactorFn.
func (s *Store) SetupTwoFactor(ctx context.Context, userID uint64, password, issuer string) (string, string, error) {
	if s.SetupTwoFactorFn == nil {
		panic("mock: SetupTwoFactor was not expected")
	}
	return s.SetupTwoFactorFn(ctx, userID, password, issuer)
}

// TwoFactorSetup calls TwoFactorSetupFn.
func (s *Store) TwoFactorSetup(ctx context.Context, userID uint64) (string, error) {
	if s.TwoFactorSetupFn == nil {
		panic("mock: TwoFactorSetup was not expected")
	}
	return s.TwoFactorSetupFn(ctx, userID)
}

// EnableTwoFactor calls EnableTwoFactorFn.
func (s *Store) EnableTwoFactor(ctx context.Context, userID uint64, keep, code string) ([]string, error) {
	if s.EnableTwoFactorFn == nil {
		panic("mock: EnableTwoFactor was not expected")
	}
	return s.EnableTwoFactorFn(ctx, userID, keep, code)
}

// RenewRecoveryCodes calls RenewRecoveryCodesFn.
func (s *Store) RenewRecoveryCodes(ctx context.Context, userID uint64, keep, password, code string) ([]string, error) {
	if s.RenewRecoveryCodesFn == nil {
		panic("mock: RenewRecoveryCodes was not expected")
	}
	return s.RenewRecoveryCodesFn(ctx, userID, keep, password, code)
}

// DisableTwoFactor calls DisableTwoFactorFn.
func (s *Store) DisableTwoFactor(ctx context.Context, userID uint64, keep, password, code string) error {
	if s.DisableTwoFactorFn == nil {
		panic("mock: DisableTwoFactor was not expected")
	}
	return s.DisableTwoFactorFn(ctx, userID, keep, password, code)
}

// CheckSecondFactor calls CheckSecondFactorFn.
func (s *Store) CheckSecondFactor(ctx context.Context, userID uint64, code string) error {
	if s.CheckSecondFactorFn == nil {
		panic("mock: CheckSecondFactor was not expected")
	}
	return s.CheckSecondFactorFn(ctx, userID, code)
}

// UserBySSO calls UserBySSOFn.
func (s *Store) UserBySSO(ctx context.Context, l ferry.SSOLink) (*ferry.User, error) {
	if s.UserBySSOFn == nil {
		panic("mock: UserBySSO was not expected")
	}
	return s.UserBySSOFn(ctx, l)
}

// CreateSSOUser calls CreateSSOUserFn.
func (s *Store) CreateSSOUser(ctx context.Context, nu ferry.NewUser, l ferry.SSOLink) (*ferry.User, error) {
	if s.CreateSSOUserFn == nil {
		panic("mock: CreateSSOUser was not expected")
	}
	return s.CreateSSOUserFn(ctx, nu, l)
}

// LinkSSO calls LinkSSOFn.
func (s *Store) LinkSSO(ctx context.Context, userID uint64, l ferry.SSOLink) error {
	if s.LinkSSOFn == nil {
		panic("mock: LinkSSO was not expected")
	}
	return s.LinkSSOFn(ctx, userID, l)
}

// UnlinkSSO calls UnlinkSSOFn.
func (s *Store) UnlinkSSO(ctx context.Context, userID uint64) error {
	if s.UnlinkSSOFn == nil {
		panic("mock: UnlinkSSO was not expected")
	}
	return s.UnlinkSSOFn(ctx, userID)
}

// SetPackage calls SetPackageFn.
func (s *Store) SetPackage(ctx context.Context, userID uint64, pkg string) error {
	if s.SetPackageFn == nil {
		panic("mock: SetPackage was not expected")
	}
	return s.SetPackageFn(ctx, userID, pkg)
}

// AddPasskey calls AddPasskeyFn.
func (s *Store) AddPasskey(ctx context.Context, userID uint64, p ferry.Passkey) error {
	if s.AddPasskeyFn == nil {
		panic("mock: AddPasskey was not expected")
	}
	return s.AddPasskeyFn(ctx, userID, p)
}

// Passkeys calls PasskeysFn.
func (s *Store) Passkeys(ctx context.Context, userID uint64) ([]ferry.Passkey, error) {
	if s.PasskeysFn == nil {
		panic("mock: Passkeys was not expected")
	}
	return s.PasskeysFn(ctx, userID)
}

// RemovePasskey calls RemovePasskeyFn.
func (s *Store) RemovePasskey(ctx context.Context, userID uint64, id []byte) error {
	if s.RemovePasskeyFn == nil {
		panic("mock: RemovePasskey was not expected")
	}
	return s.RemovePasskeyFn(ctx, userID, id)
}

// PasskeyOwner calls PasskeyOwnerFn.
func (s *Store) PasskeyOwner(ctx context.Context, id []byte) (*ferry.User, ferry.Passkey, error) {
	if s.PasskeyOwnerFn == nil {
		panic("mock: PasskeyOwner was not expected")
	}
	return s.PasskeyOwnerFn(ctx, id)
}

// UsePasskey calls UsePasskeyFn.
func (s *Store) UsePasskey(ctx context.Context, userID uint64, id []byte, signCount uint32) error {
	if s.UsePasskeyFn == nil {
		panic("mock: UsePasskey was not expected")
	}
	return s.UsePasskeyFn(ctx, userID, id, signCount)
}

// Activity calls ActivityFn.
func (s *Store) Activity(ctx context.Context, f ferry.AuditFilter) ([]ferry.Event, error) {
	if s.ActivityFn == nil {
		panic("mock: Activity was not expected")
	}
	return s.ActivityFn(ctx, f)
}

// CreateRequest calls CreateRequestFn.
func (s *Store) CreateRequest(ctx context.Context, userID uint64, r ferry.NewFileRequest) (uint64, string, error) {
	if s.CreateRequestFn == nil {
		panic("mock: CreateRequest was not expected")
	}
	return s.CreateRequestFn(ctx, userID, r)
}

// Requests calls RequestsFn.
func (s *Store) Requests(ctx context.Context, userID uint64) ([]ferry.FileRequest, error) {
	if s.RequestsFn == nil {
		panic("mock: Requests was not expected")
	}
	return s.RequestsFn(ctx, userID)
}

// RevokeRequest calls RevokeRequestFn.
func (s *Store) RevokeRequest(ctx context.Context, userID, id uint64) error {
	if s.RevokeRequestFn == nil {
		panic("mock: RevokeRequest was not expected")
	}
	return s.RevokeRequestFn(ctx, userID, id)
}

// OpenRequest calls OpenRequestFn.
func (s *Store) OpenRequest(ctx context.Context, token, password string) (ferry.OpenedRequest, error) {
	if s.OpenRequestFn == nil {
		panic("mock: OpenRequest was not expected")
	}
	return s.OpenRequestFn(ctx, token, password)
}

// StartDelivery calls StartDeliveryFn.
func (s *Store) StartDelivery(ctx context.Context, token, password, name, email string) (string, error) {
	if s.StartDeliveryFn == nil {
		panic("mock: StartDelivery was not expected")
	}
	return s.StartDeliveryFn(ctx, token, password, name, email)
}

// Deliver calls DeliverFn.
func (s *Store) Deliver(ctx context.Context, d ferry.Delivery, name string, body io.Reader, size int64) (ferry.Delivered, error) {
	if s.DeliverFn == nil {
		panic("mock: Deliver was not expected")
	}
	return s.DeliverFn(ctx, d, name, body, size)
}

// FinishDelivery calls FinishDeliveryFn.
func (s *Store) FinishDelivery(ctx context.Context, d ferry.Delivery, notice func(owner *ferry.User, title string, m ferry.Message) ferry.Mail) (files int, size int64, err error) {
	if s.FinishDeliveryFn == nil {
		panic("mock: FinishDelivery was not expected")
	}
	return s.FinishDeliveryFn(ctx, d, notice)
}

package ferry

import (
	"errors"
	"fmt"
)

// Error codes of the API contract (docs/api.md, "Error codes"). The HTTP status of
// each code is decided in one place, the server package.
const (
	EUNKNOWN                = "ERR_UNKNOWN"
	EBADREQUEST             = "METHOD_BAD_REQUEST"
	ENOPERMISSION           = "NO_PERMISSION"
	EAUTHFAILED             = "AUTH_FAILED"
	ETOKENCANNOTBEGENERATED = "TOKEN_CANNOT_BE_GENERATED"
	EMETHODNOTALLOWED       = "METHOD_NOT_ALLOWED"
	EUSERNOTFOUND           = "USER_NOT_FOUND"
	EALREADYCONTACT         = "ALREADY_CONTACT"
	ECONTACTNOTFOUND        = "CONTACT_NOT_FOUND"
	ENOTIFICATIONNOTFOUND   = "NOTIFICATION_NOT_FOUND"
	ENOTIFICATIONREAD       = "NOTIFICATION_ALREADY_READ"
	EMESSAGENOTFOUND        = "MESSAGE_NOT_FOUND"
	EMESSAGEREAD            = "MESSAGE_ALREADY_READ"
	EINVALIDPHOTO           = "INVALID_PHOTO"
	EINVALIDEMAIL           = "INVALID_EMAIL"
	EEMAILEXISTS            = "EMAIL_ALREADY_EXIST"
	EWRONGPASSWORD          = "WRONG_CURRENT_PASSWORD"
	EINVALIDPASSWORD        = "INVALID_NEW_PASSWORD"
	EQUOTAEXCEEDED          = "QUOTA_EXCEEDED"
	EFILENOTFOUND           = "FILE_NOT_FOUND"
	ENOTFOUND               = "NOT_FOUND"
	EFILEEXISTS             = "FILE_EXISTS"
	EUPLOADNOTFOUND         = "UPLOAD_NOT_FOUND"
	EUPLOADOFFSET           = "UPLOAD_OFFSET_MISMATCH"
	ETOOLARGE               = "PAYLOAD_TOO_LARGE"
	ETOOMANYREQUESTS        = "TOO_MANY_REQUESTS"
	EACCOUNTDISABLED        = "ACCOUNT_DISABLED"
	ESTORAGEFULL            = "STORAGE_FULL"
	ELINKNOTFOUND           = "LINK_NOT_FOUND"
	ELINKEXPIRED            = "LINK_EXPIRED"
	EOTPREQUIRED            = "OTP_REQUIRED"
	EINVALIDOTP             = "INVALID_OTP"
	ETWOFACTORREQUIRED      = "TWO_FACTOR_REQUIRED"
	EADMINONLY              = "ADMIN_ONLY"
	EREQUESTNOTFOUND        = "REQUEST_NOT_FOUND"
	EINFECTED               = "INFECTED"
	ESCANPENDING            = "SCAN_PENDING"
	ESCANUNAVAILABLE        = "SCAN_UNAVAILABLE"
)

// Error is an error a client is meant to see: an API code and a human-readable
// message. Any other error is internal and reaches clients as ERR_UNKNOWN.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ferry error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EUNKNOWN for any
// other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EUNKNOWN
}

// ErrorMessage returns the message of the *Error in err's chain and a generic
// message for any other error, so internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrNoReceiver is in the chain of a send's refusal (METHOD_BAD_REQUEST)
// when no account has the receiver's email: the web app offers to invite
// them.
var ErrNoReceiver = errors.New("no account has the receiver's email")

// ErrBodyRead wraps a failure to read a request body (the client went away,
// or sent less than it said): the caller answers it as its protocol sees
// fit.
var ErrBodyRead = errors.New("reading the request body")

// OffsetError is the answer to a chunk of a resumable upload that does not
// start where the upload stands: Received is where it does.
type OffsetError struct {
	Received int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("the upload has %d bytes; a chunk must start there", e.Received)
}

// ErrMoving is a request for an account that is being moved to another
// node (cluster mode): it answers 503 with Retry-After, for a few seconds.
var ErrMoving = errors.New("this account is being moved to another server")

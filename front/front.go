// Package front is what ferry's front ends (the API, the web app, and
// WebDAV) share of HTTP: the content policies of pages and of everything
// else, and how an error of the domain is answered (its status, and the
// JSON of the API's error model).
package front

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"syscall"

	"github.com/ferryhq/ferry"
)

// PagePolicy is the Content-Security-Policy of every page of ferry's own:
// scripts, styles and images of its origin only, nothing inline, never
// framed.
const PagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// InertPolicy is the Content-Security-Policy of every answer but a page
// of ferry's own (file content, a zip, JSON): nothing in it runs, loads or
// is framed.
const InertPolicy = "sandbox; default-src 'none'; frame-ancestors 'none'"

// statusOf maps each error code to its HTTP status (docs/api.md, "Error
// codes").
var statusOf = map[string]int{
	ferry.EUNKNOWN:                http.StatusInternalServerError,
	ferry.EBADREQUEST:             http.StatusBadRequest,
	ferry.ENOPERMISSION:           http.StatusUnauthorized,
	ferry.EAUTHFAILED:             http.StatusForbidden,
	ferry.ETOKENCANNOTBEGENERATED: http.StatusInternalServerError,
	ferry.EMETHODNOTALLOWED:       http.StatusMethodNotAllowed,
	ferry.EUSERNOTFOUND:           http.StatusNotFound,
	ferry.EALREADYCONTACT:         http.StatusAccepted,
	ferry.ECONTACTNOTFOUND:        http.StatusNotFound,
	ferry.ENOTIFICATIONNOTFOUND:   http.StatusNotFound,
	ferry.ENOTIFICATIONREAD:       http.StatusAccepted,
	ferry.EMESSAGENOTFOUND:        http.StatusNotFound,
	ferry.EMESSAGEREAD:            http.StatusAccepted,
	ferry.EINVALIDPHOTO:           http.StatusBadRequest,
	ferry.EINVALIDEMAIL:           http.StatusBadRequest,
	ferry.EEMAILEXISTS:            http.StatusBadRequest,
	ferry.EWRONGPASSWORD:          http.StatusBadRequest,
	ferry.EINVALIDPASSWORD:        http.StatusBadRequest,
	ferry.EQUOTAEXCEEDED:          http.StatusForbidden,
	ferry.EFILENOTFOUND:           http.StatusNotFound,
	ferry.ENOTFOUND:               http.StatusNotFound,
	ferry.EFILEEXISTS:             http.StatusConflict,
	ferry.EUPLOADNOTFOUND:         http.StatusNotFound,
	ferry.EUPLOADOFFSET:           http.StatusConflict,
	ferry.ELINKNOTFOUND:           http.StatusNotFound,
	ferry.ELINKEXPIRED:            http.StatusGone,
	ferry.ETOOLARGE:               http.StatusRequestEntityTooLarge,
	ferry.ETOOMANYREQUESTS:        http.StatusTooManyRequests,
	ferry.EACCOUNTDISABLED:        http.StatusForbidden,
	ferry.ESTORAGEFULL:            http.StatusInsufficientStorage,
	ferry.EOTPREQUIRED:            http.StatusUnauthorized,
	ferry.EINVALIDOTP:             http.StatusBadRequest,
	ferry.ETWOFACTORREQUIRED:      http.StatusForbidden,
	ferry.EADMINONLY:              http.StatusForbidden,
	ferry.EREQUESTNOTFOUND:        http.StatusNotFound,
	ferry.EINFECTED:               http.StatusUnprocessableEntity,
	ferry.ESCANPENDING:            http.StatusConflict,
	ferry.ESCANUNAVAILABLE:        http.StatusServiceUnavailable,
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteError answers err in the API's error model. An internal error is
// logged (with route, for the log line) and reaches the client only as
// ERR_UNKNOWN with a generic message.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, route string, err error) {
	if full := StorageFull(err); full != err {
		log.ErrorContext(r.Context(), "disk full", "err", err, "route", route)
		err = full
	}
	err = Public(err)
	if errors.Is(err, ferry.ErrMoving) {
		w.Header().Set("Retry-After", "5")
		WriteJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: ferry.EUNKNOWN, Message: "This account is being moved to another server; try again in a few seconds."})
		return
	}
	code := ferry.ErrorCode(err)
	status, ok := statusOf[code]
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away before its write ran; nobody reads this.
		log.InfoContext(r.Context(), "request given up by its client", "route", route)
		code, status = ferry.EUNKNOWN, http.StatusInternalServerError
	} else if !ok || code == ferry.EUNKNOWN {
		log.ErrorContext(r.Context(), "internal error", "err", err, "route", route)
		code, status = ferry.EUNKNOWN, http.StatusInternalServerError
	}
	if code == ferry.ESCANUNAVAILABLE {
		w.Header().Set("Retry-After", "60") // the rescan's pace: clamd is asked again within a minute
	}
	WriteJSON(w, status, ErrorBody{Error: code, Message: ferry.ErrorMessage(err)})
}

// Public is err as a front end answers it: the file system's full disk as
// STORAGE_FULL, a request body that could not be read in full (the client
// went away or sent less than it said) as a bad request, any other err as
// it is.
func Public(err error) error {
	if errors.Is(err, ferry.ErrBodyRead) {
		return ferry.Errorf(ferry.EBADREQUEST, "The request body could not be read in full.")
	}
	return StorageFull(err)
}

// Explain is the status and the error WriteError gives err (for the web
// app's pages, which say it in HTML).
func Explain(err error) (int, error) {
	err = Public(err)
	if errors.Is(err, ferry.ErrMoving) {
		return http.StatusServiceUnavailable, ferry.Errorf(ferry.EUNKNOWN, "This account is being moved to another server; try again in a few seconds.")
	}
	status, ok := statusOf[ferry.ErrorCode(err)]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status, err
}

// StorageFull returns STORAGE_FULL for the file system's "no space left"
// or "disk quota exceeded", and any other err as it is.
func StorageFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return ferry.Errorf(ferry.ESTORAGEFULL, "The server's disk is full; nothing of this request was kept.")
	}
	return err
}

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// BodyError turns a failure to read or decode a body into an API error.
func BodyError(err error) error {
	var tooLarge *http.MaxBytesError
	var fe *ferry.Error
	switch {
	case errors.As(err, &tooLarge):
		return ferry.Errorf(ferry.ETOOLARGE, "The request body is over the limit of %d bytes.", tooLarge.Limit)
	case errors.As(err, &fe):
		return fe
	default:
		return ferry.Errorf(ferry.EBADREQUEST, "Malformed request body.")
	}
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"syscall"

	"github.com/ferryhq/ferry"
)

// statusOf maps each API error code to its HTTP status (docs/api.md, "Error codes").
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
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError answers err as docs/api.md's error model. An internal error is
// logged with the request's context and reaches the client only as
// ERR_UNKNOWN with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if full := storageFull(err); full != err {
		s.log.ErrorContext(r.Context(), "disk full", "err", err, "route", routeOf(r))
		err = full
	}
	err = apiError(err)
	code := ferry.ErrorCode(err)
	status, ok := statusOf[code]
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away before its write ran; nobody reads this.
		s.log.InfoContext(r.Context(), "request given up by its client", "route", routeOf(r))
		code, status = ferry.EUNKNOWN, http.StatusInternalServerError
	} else if !ok || code == ferry.EUNKNOWN {
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "route", routeOf(r))
		code, status = ferry.EUNKNOWN, http.StatusInternalServerError
	}
	writeJSON(w, status, errorBody{Error: code, Message: ferry.ErrorMessage(err)})
}

// apiError is err as the API answers it: the file system's full disk as
// STORAGE_FULL, a request body that could not be read in full (the client
// went away or sent less than it said) as a bad request, any other err as
// it is.
func apiError(err error) error {
	if errors.Is(err, ferry.ErrBodyRead) {
		return ferry.Errorf(ferry.EBADREQUEST, "The request body could not be read in full.")
	}
	return storageFull(err)
}

// explain is the status and the error writeError gives err (for the web
// app's pages, which say it in HTML).
func explain(err error) (int, error) {
	err = apiError(err)
	status, ok := statusOf[ferry.ErrorCode(err)]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status, err
}

// storageFull returns STORAGE_FULL for the file system's "no space left"
// or "disk quota exceeded", and any other err as it is.
func storageFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return ferry.Errorf(ferry.ESTORAGEFULL, "The server's disk is full; nothing of this request was kept.")
	}
	return err
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeOK answers a call that has nothing to return: 200 {}.
func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, struct{}{})
}

package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ferryhq/ferry"
)

// apiPrefix is the base of every API route (docs/api.md: version 1).
const apiPrefix = "/api/1"

// routes builds the router. This is the one file that knows gorilla/mux.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, ferry.Errorf(ferry.ENOTFOUND, "No such route: %s.", r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, ferry.Errorf(ferry.EMETHODNOTALLOWED, "%s is not allowed here.", r.Method))
	})
	r.Use(nameRoute)

	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	if s.cfg.Metrics != nil {
		r.Handle("/metrics", s.metricsAuth(s.cfg.Metrics)).Methods(http.MethodGet)
	}

	// api routes take bodies up to max_request_body; stream routes read
	// file content and bound it themselves (max_file_size, the quota).
	api := func(path string, h http.Handler, methods ...string) {
		r.Handle(apiPrefix+path, s.limitBody(h)).Methods(methods...)
		s.noteRoutes(path, methods)
	}
	stream := func(path string, h http.Handler, methods ...string) {
		r.Handle(apiPrefix+path, h).Methods(methods...)
		s.noteRoutes(path, methods)
	}
	const get, post, put, del, head = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead

	api("/openapi.json", http.HandlerFunc(s.handleOpenAPI), get)
	api("/auth/token", http.HandlerFunc(s.handleLogin), get, post)
	api("/auth/token", s.authedToSetUp(s.handleLogout), del)
	api("/auth/register", http.HandlerFunc(s.handleRegister), post)
	api("/account/delete", s.authed(s.handleAccountDelete), post)
	api("/auth/password/forgot", http.HandlerFunc(s.handleForgotPassword), post)
	api("/auth/password/reset", http.HandlerFunc(s.handleResetPassword), post)
	api("/settings/list", s.authedToSetUp(s.handleSettingsList), get)
	api("/settings/update", s.authed(s.handleSettingsUpdate), post)
	api("/account/quota", s.authed(s.handleQuota), get)
	api("/account/2fa/setup", s.authedToSetUp(s.handleTwoFactorSetup), post)
	api("/account/2fa/enable", s.authedToSetUp(s.handleTwoFactorEnable), post)
	api("/account/2fa/recovery", s.authedToSetUp(s.handleTwoFactorRecovery), post)
	api("/account/2fa/disable", s.authedToSetUp(s.handleTwoFactorDisable), post)
	api("/account/tokens", s.authed(s.handleCreateToken), post)
	api("/account/tokens", s.authed(s.handleTokens), get)
	api("/account/tokens/revoke", s.authed(s.handleRevokeToken), post)

	api("/admin/users", s.adminOnly(s.handleAdminUsers), get)
	api("/admin/users/update", s.adminOnly(s.handleAdminUpdate), post)
	api("/admin/users/delete", s.adminOnly(s.handleAdminDelete), post)
	api("/admin/mail", s.adminOnly(s.handleAdminMail), get)
	api("/admin/audit", s.adminOnly(s.handleAdminAudit), get)
	api("/account/activity", s.authed(s.handleActivity), get)

	api("/ops/list", s.authed(s.handleList), get)
	api("/ops/mkdir", s.authed(s.handleMkdir), post)
	api("/ops/move", s.authed(s.handleMove), post)
	api("/ops/copy", s.authed(s.handleCopy), post)
	api("/ops/delete", s.authed(s.handleDelete), post)
	api("/ops/filesize", s.authed(s.handleFilesize), post)
	stream("/files", s.authed(s.handlePutFile), put)
	api("/files", s.authed(s.handleGetFile), get, head)
	api("/files/link", s.authed(s.handleCreateLink), post)
	api("/files/links", s.authed(s.handleLinks), get)
	api("/files/link/revoke", s.authed(s.handleRevokeLink), post)
	api("/upload/link", s.authed(s.handleUploadLink), post)
	stream("/upload/chunked/{key}", s.authed(s.handleChunk), put)
	api("/upload/status/{key}", s.authed(s.handleUploadStatus), get)
	api("/upload/finalize/{key}", s.authed(s.handleFinalize), get)

	api("/requests", s.authed(s.handleCreateRequest), post)
	api("/requests", s.authed(s.handleRequests), get)
	api("/requests/revoke", s.authed(s.handleRevokeRequest), post)
	api("/r/{token}", http.HandlerFunc(s.handleOpenRequest), get)
	api("/r/{token}/start", http.HandlerFunc(s.handleStartDelivery), post)
	stream("/r/{token}/{delivery}", http.HandlerFunc(s.handleDeliver), put)
	api("/r/{token}/{delivery}/finish", http.HandlerFunc(s.handleFinishDelivery), post)

	api("/ops/send", s.authed(s.handleSend), post)
	api("/inbox/list", s.authed(s.handleInboxList), get)
	api("/inbox/update", s.authed(s.handleInboxUpdate), post)
	api("/outbox/list", s.authed(s.handleOutboxList), get)

	api("/contacts/add", s.authed(s.handleContactsAdd), post)
	api("/contacts/list", s.authed(s.handleContactsList), get)
	api("/contacts/remove", s.authed(s.handleContactsRemove), post)
	api("/notifications/list", s.authed(s.handleNotificationsList), get)
	api("/notifications/update", s.authed(s.handleNotificationsUpdate), post)
	api("/user-photo/update", s.authed(s.handlePhotoUpdate), post)
	api("/user-photo/remove", s.authed(s.handlePhotoRemove), post)
	api("/invite", s.authed(s.handleInvite), post)
	api("/slice", s.authed(s.handleSlice(s.dav.AppPassword)), get)
	api("/slice/reset", s.authed(s.handleSlice(s.dav.ResetAppPassword)), post)

	r.Handle("/d/{token}", s.limitBody(http.HandlerFunc(s.handleDownloadLink))).Methods(get, head, http.MethodPost)
	r.Handle("/photos/{token}", s.limitBody(http.HandlerFunc(s.handlePhoto))).Methods(get, head)
	return r
}

// pathVar returns a variable of the matched route's path.
func pathVar(r *http.Request, name string) string {
	return mux.Vars(r)[name]
}

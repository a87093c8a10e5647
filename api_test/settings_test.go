package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ferryhq/ferry"
)

func TestSettings_Update(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("bo@example.com", password)
	c := ts.login(email, password)
	other := ts.login(email, password)
	update := func(v url.Values) *response { return c.postForm("/settings/update", v) }

	assert.JSONEq(t, `{}`, string(update(url.Values{"fullname": {"  Bo Diddley "}}).requireStatus(http.StatusOK).Body))
	var s struct {
		FullName string `json:"fullname"`
	}
	c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.Equal(t, "Bo Diddley", s.FullName)
	update(url.Values{"fullname": {"Bo\r\nBcc: x@example.com"}}).requireError(400, ferry.EBADREQUEST)
	update(url.Values{}).requireStatus(http.StatusOK)

	update(url.Values{"new_password": {"new password 1"}}).requireError(400, ferry.EWRONGPASSWORD)
	update(url.Values{"current_password": {"not it"}, "new_password": {"new password 1"}}).requireError(400, ferry.EWRONGPASSWORD)
	update(url.Values{"current_password": {password}, "new_password": {"short"}}).requireError(400, ferry.EINVALIDPASSWORD)
	other.get("/settings/list", nil).requireStatus(http.StatusOK) // nothing changed yet

	update(url.Values{"current_password": {password}, "new_password": {"new password 1"}}).requireStatus(http.StatusOK)
	c.get("/settings/list", nil).requireStatus(http.StatusOK)               // the token that changed it works
	other.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION) // every other is revoked
	ts.client().get("/auth/token", url.Values{"email": {email}, "password": {password}}).requireError(403, ferry.EAUTHFAILED)
	ts.login(email, "new password 1")
}

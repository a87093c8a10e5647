package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/mock"
)

// The API's handlers on a fake of the root services: what each call asks
// of the services and how it answers what they say, in milliseconds.

// fakeServer is a server on st, with pat (user 7) behind the token "t".
func fakeServer(st *mock.Store) *Server {
	st.AuthenticateFn = func(_ context.Context, token string) (*ferry.User, error) {
		if token != "t" {
			return nil, ferry.Errorf(ferry.ENOPERMISSION, "No such token.")
		}
		return &ferry.User{ID: 7, Email: "pat@example.com"}, nil
	}
	return New(Config{Signup: "open", MaxRequestBody: 1 << 20}, st, slog.New(slog.DiscardHandler), time.Now)
}

func call(s *Server, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestHandlers_ListAsksTheUsersFolder(t *testing.T) {
	st := &mock.Store{}
	st.ListFn = func(_ context.Context, userID uint64, names []string, each func([]byte, bool, int64)) error {
		assert.Equal(t, uint64(7), userID)
		if len(names) == 1 && names[0] == "gone" {
			return ferry.Errorf(ferry.EFILENOTFOUND, "No folder gone.")
		}
		assert.Equal(t, []string{"docs"}, names)
		each([]byte("a.txt"), false, 10)
		each([]byte("sub"), true, 20)
		return nil
	}
	s := fakeServer(st)

	w := call(s, http.MethodGet, "/api/1/ops/list?path=/docs/", nil, "token", "t")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `[{"file":"docs/a.txt","size":10,"type":"f"},{"file":"docs/sub","size":20,"type":"d"}]`, w.Body.String())

	w = call(s, http.MethodGet, "/api/1/ops/list?path=gone", nil, "Authorization", "Bearer t")
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, w.Body.String(), `"error":"FILE_NOT_FOUND"`)

	w = call(s, http.MethodGet, "/api/1/ops/list?path=docs", nil, "token", "wrong")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a wrong token reaches no folder")
	w = call(s, http.MethodGet, "/api/1/ops/list?path=a/../b", nil, "token", "t")
	assert.Equal(t, http.StatusBadRequest, w.Code, "a bad path is refused before the store")
}

func TestHandlers_ChunkRangesAndOffsets(t *testing.T) {
	st := &mock.Store{}
	var got ferry.Chunk
	st.WriteChunkFn = func(_ context.Context, c ferry.Chunk) (int64, error) {
		got = c
		if c.Start != 4 {
			return 4, &ferry.OffsetError{Received: 4}
		}
		b, err := io.ReadAll(c.Body)
		return c.Start + int64(len(b)), err
	}
	s := fakeServer(st)

	w := call(s, http.MethodPut, "/api/1/upload/chunked/k1", strings.NewReader("xyz"), "token", "t", "Content-Range", "bytes 4-6/10")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"received":7}`, w.Body.String())
	assert.Equal(t, ferry.Chunk{UserID: 7, Key: "k1", Start: 4, End: 6, Total: 10, Body: got.Body}, got)

	w = call(s, http.MethodPut, "/api/1/upload/chunked/k1", strings.NewReader("ab"), "token", "t", "Content-Range", "bytes 0-1/10")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"UPLOAD_OFFSET_MISMATCH","message":"A chunk must start at byte 4.","received":4}`, w.Body.String())

	for _, bad := range []string{"", "bytes 4-6", "bytes x-6/10", "items 4-6/10"} {
		w = call(s, http.MethodPut, "/api/1/upload/chunked/k1", strings.NewReader("xyz"), "token", "t", "Content-Range", bad)
		assert.Equal(t, http.StatusBadRequest, w.Code, "%q", bad)
	}
	w = call(s, http.MethodPut, "/api/1/upload/chunked/k1", strings.NewReader("xyzw"), "token", "t", "Content-Range", "bytes 4-6/10")
	assert.Equal(t, http.StatusBadRequest, w.Code, "a body longer than its range")
}

func TestHandlers_RegisterFollowsTheSignupPolicy(t *testing.T) {
	st := &mock.Store{}
	var invited []string
	st.CreateInvitedUserFn = func(_ context.Context, nu ferry.NewUser, code string) (*ferry.User, error) {
		invited = append(invited, code)
		return &ferry.User{ID: 8, Email: nu.Email}, nil
	}
	st.CreateTokenFn = func(context.Context, uint64) (string, error) { return "new", nil }
	s := fakeServer(st) // open signup: a plain signup would call CreateUser, unset here

	form := "email=dan%40elsewhere.example&password=long+enough&invite=+CODE+"
	w := call(s, http.MethodPost, "/api/1/auth/register", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []string{"CODE"}, invited, "in open signup a given code is used, trimmed")
	assert.JSONEq(t, `{"token":"new"}`, w.Body.String())
}

func TestHandlers_InboxUpdateIsABatch(t *testing.T) {
	st := &mock.Store{}
	var asked []ferry.Decision
	st.UpdateInboxFn = func(_ context.Context, receiverID uint64, decisions []ferry.Decision) ([]error, error) {
		assert.Equal(t, uint64(7), receiverID)
		asked = decisions
		results := make([]error, len(decisions))
		for i, d := range decisions {
			if d.ID == 3 {
				results[i] = ferry.Errorf(ferry.EQUOTAEXCEEDED, "No room.")
			}
		}
		return results, nil
	}
	s := fakeServer(st)
	form := `messages=[{"id":1,"accept":"YES"},{"id":"2","accept":"no"},{"id":3,"accept":"YES"},{"id":"x","accept":"YES"},{"id":4,"accept":"MAYBE"}]`
	w := call(s, http.MethodPost, "/api/1/inbox/update", strings.NewReader(strings.ReplaceAll(form, " ", "")),
		"token", "t", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, []ferry.Decision{{ID: 1, Accept: true}, {ID: 2}, {ID: 3, Accept: true}}, asked, "only the well-formed reach the store, in order")
	assert.JSONEq(t, `[{"id":3,"error":"QUOTA_EXCEEDED"},{"id":"x","error":"MESSAGE_NOT_FOUND"},{"id":4,"error":"METHOD_BAD_REQUEST"}]`, w.Body.String())
}

package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

type contactRow struct {
	FullName string `json:"fullname"`
	Email    string `json:"email"`
	Photo    string `json:"photo"`
}

type notificationRow struct {
	ID        uint64 `json:"id"`
	Type      string `json:"type"`
	Email     string `json:"email"`
	Timestamp string `json:"timestamp"`
	Read      bool   `json:"read"`
}

func (c *client) contacts(filter string) []contactRow {
	c.t.Helper()
	var out []contactRow
	c.get("/contacts/list", url.Values{"filter": {filter}}).requireStatus(http.StatusOK).decode(&out)
	return out
}

func (c *client) notifications() []notificationRow {
	c.t.Helper()
	var out []notificationRow
	c.get("/notifications/list", nil).requireStatus(http.StatusOK).decode(&out)
	return out
}

// namedUser creates a user with a full name and logs in.
func (ts *testServer) namedUser(email, name string) *client {
	ts.t.Helper()
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: email, Password: password, Name: name})
	require.NoError(ts.t, err)
	return ts.login(email, password)
}

func TestContacts(t *testing.T) { contactsAddListRemove(t, oneNode) }

func contactsAddListRemove(t *testing.T, on topologyOf) {
	tp := on(t)
	ann := tp.user(tp.a, "ann@example.com", "Ann Archer")
	tp.user(tp.b, "bob@example.com", "Bob Baker")
	carl := tp.user(tp.b, "carl@example.com", "Carl Cooper")
	tp.user(tp.c, "dora@other.org", "dora explorer")

	r := ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com", "CARL@example.com", "dora@other.org"}})
	assert.JSONEq(t, `[]`, string(r.requireStatus(http.StatusOK).Body))
	r = ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com", "nobody@example.com", "not an email", "ann@example.com"}})
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"email":"bob@example.com","error":"ALREADY_CONTACT"},{"email":"nobody@example.com","error":"USER_NOT_FOUND"},
		{"email":"not an email","error":"USER_NOT_FOUND"},{"email":"ann@example.com","error":"METHOD_BAD_REQUEST"}]`, string(r.Body))

	assert.Equal(t, []contactRow{
		{FullName: "Bob Baker", Email: "bob@example.com"},
		{FullName: "Carl Cooper", Email: "carl@example.com"},
		{FullName: "dora explorer", Email: "dora@other.org"},
	}, ann.contacts(""))
	assert.Equal(t, []contactRow{{FullName: "Carl Cooper", Email: "carl@example.com"}}, ann.contacts("COOP"))
	assert.Equal(t, []contactRow{{FullName: "dora explorer", Email: "dora@other.org"}}, ann.contacts("Other.ORG"))
	assert.Empty(t, ann.contacts("zzz"))
	assert.Empty(t, carl.contacts(""), "contacts are one-way")

	// Carl was told, once.
	var notes []notificationRow
	tp.eventually(func() bool { notes = carl.notifications(); return len(notes) > 0 }, "Carl is told")
	tp.quiet()
	require.Len(t, carl.notifications(), 1)
	assert.Equal(t, "CONTACT_REQUEST", notes[0].Type)
	assert.Equal(t, "ann@example.com", notes[0].Email)
	assert.False(t, notes[0].Read)
	assert.Regexp(t, timestampRE, notes[0].Timestamp)

	assert.JSONEq(t, `{}`, string(ann.postForm("/contacts/remove", url.Values{"email": {"carl@example.com"}}).requireStatus(http.StatusOK).Body))
	ann.postForm("/contacts/remove", url.Values{"email": {"carl@example.com"}}).requireError(404, ferry.ECONTACTNOTFOUND)
	ann.postForm("/contacts/remove", url.Values{"email": {"nobody@example.com"}}).requireError(404, ferry.ECONTACTNOTFOUND)
	ann.postForm("/contacts/add", url.Values{"email[]": {"carl@example.com"}}).requireStatus(http.StatusOK)
	tp.quiet()
	assert.Len(t, carl.notifications(), 1, "no second request while the first is unread")
	ann.postForm("/contacts/add", url.Values{"email": {"x@example.com"}}).requireStatus(http.StatusAccepted) // plain repeated name
	ann.postForm("/contacts/add", url.Values{}).requireError(400, ferry.EBADREQUEST)
}

func TestNotifications_Update(t *testing.T) {
	ts := startServer(t)
	ann := ts.newUser("ann@example.com")
	bob := ts.newUser("bob@example.com")
	carl := ts.newUser("carl@example.com")
	ann.postForm("/contacts/add", url.Values{"email[]": {"carl@example.com"}}).requireStatus(http.StatusOK)
	bob.postForm("/contacts/add", url.Values{"email[]": {"carl@example.com", "ann@example.com"}}).requireStatus(http.StatusOK)
	notes := carl.notifications()
	require.Len(t, notes, 2)
	assert.Equal(t, []string{"ann@example.com", "bob@example.com"}, []string{notes[0].Email, notes[1].Email}, "oldest first")
	annNote := ann.notifications()[0].ID

	r := carl.postForm("/notifications/update", url.Values{"id[]": {fmt.Sprint(notes[0].ID)}})
	assert.JSONEq(t, `[]`, string(r.requireStatus(http.StatusOK).Body))
	r = carl.postForm("/notifications/update", url.Values{"id[]": {fmt.Sprint(notes[0].ID), fmt.Sprint(notes[1].ID), fmt.Sprint(annNote), "999", "x"}})
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"NOTIFICATION_ALREADY_READ"},{"id":%d,"error":"NOTIFICATION_NOT_FOUND"},
		{"id":999,"error":"NOTIFICATION_NOT_FOUND"},{"id":"x","error":"NOTIFICATION_NOT_FOUND"}]`, notes[0].ID, annNote), string(r.Body))
	notes = carl.notifications()
	assert.True(t, notes[0].Read && notes[1].Read)
	assert.False(t, ann.notifications()[0].Read, "another user's notification is untouched")
	carl.postForm("/notifications/update", nil).requireError(400, ferry.EBADREQUEST)
	// Read, a new request from the same person may come.
	bob.postForm("/contacts/remove", url.Values{"email": {"carl@example.com"}}).requireStatus(http.StatusOK)
	bob.postForm("/contacts/add", url.Values{"email[]": {"carl@example.com"}}).requireStatus(http.StatusOK)
	assert.Len(t, carl.notifications(), 3)
}

func encodeImage(t testing.TB, format string, w, h int, noisy bool) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if noisy {
		_, err := rand.Read(img.Pix)
		require.NoError(t, err)
	} else {
		for x := range w {
			img.Set(x, 0, color.RGBA{R: 200, A: 255})
		}
	}
	var b bytes.Buffer
	switch format {
	case "png":
		require.NoError(t, png.Encode(&b, img))
	case "jpeg":
		require.NoError(t, jpeg.Encode(&b, img, nil))
	case "gif":
		require.NoError(t, gif.Encode(&b, img, nil))
	}
	return b.Bytes()
}

func (c *client) uploadPhoto(field string, data []byte) *response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile(field, "me.img")
	require.NoError(c.t, err)
	_, err = fw.Write(data)
	require.NoError(c.t, err)
	require.NoError(c.t, mw.Close())
	return c.request(http.MethodPost, "/user-photo/update", &body, mw.FormDataContentType())
}

func TestPhoto(t *testing.T) {
	t.Parallel() // slow: beside the others
	ts := startServer(t)
	me := ts.newUser("pia@example.com")
	friend := ts.newUser("quinn@example.com")
	friend.postForm("/contacts/add", url.Values{"email[]": {"pia@example.com"}}).requireStatus(http.StatusOK)
	anon := &client{t: t, http: http.DefaultClient}
	photoURL := func() string {
		var s struct{ Photo string }
		me.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
		return s.Photo
	}
	assert.Equal(t, "", photoURL())

	pngData := encodeImage(t, "png", 1600, 1200, false)
	assert.JSONEq(t, `{}`, string(me.uploadPhoto("photo", pngData).requireStatus(http.StatusOK).Body))
	first := photoURL()
	require.Regexp(t, `^`+ts.Root+`/photos/[A-Za-z0-9_-]{32}$`, first)
	r := anon.request(http.MethodGet, first, nil, "").requireStatus(http.StatusOK)
	assert.Equal(t, pngData, r.Body)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	assert.Equal(t, first, friend.contacts("")[0].Photo, "contacts show it too")

	jpegData := encodeImage(t, "jpeg", 300, 200, false)
	me.uploadPhoto("photo", jpegData).requireStatus(http.StatusOK)
	second := photoURL()
	assert.NotEqual(t, first, second, "a new photo has a new URL")
	assert.Equal(t, "image/jpeg", anon.request(http.MethodGet, second, nil, "").requireStatus(http.StatusOK).Header.Get("Content-Type"))
	anon.request(http.MethodGet, first, nil, "").requireError(404, ferry.EFILENOTFOUND)

	truncated := append([]byte(nil), pngData[:len(pngData)/2]...)
	for name, data := range map[string][]byte{
		"gif":        encodeImage(t, "gif", 10, 10, false),
		"text":       []byte("not an image at all"),
		"too wide":   encodeImage(t, "png", 1601, 10, false),
		"too tall":   encodeImage(t, "png", 10, 1201, false),
		"over 2 MiB": encodeImage(t, "png", 1600, 1200, true),
		"truncated":  truncated,
		"empty":      {},
	} {
		me.uploadPhoto("photo", data).requireError(400, ferry.EINVALIDPHOTO)
		assert.Equal(t, second, photoURL(), name)
	}
	me.uploadPhoto("picture", jpegData).requireError(400, ferry.EINVALIDPHOTO)
	me.postForm("/user-photo/update", url.Values{"photo": {"x"}}).requireError(400, ferry.EINVALIDPHOTO)

	assert.JSONEq(t, `{}`, string(me.postForm("/user-photo/remove", nil).requireStatus(http.StatusOK).Body))
	assert.Equal(t, "", photoURL())
	anon.request(http.MethodGet, second, nil, "").requireError(404, ferry.EFILENOTFOUND)
	me.postForm("/user-photo/remove", nil).requireStatus(http.StatusOK)
}

// Adding back someone who added you completes the pair: your request from
// them is answered, they get no request (and no badge) of their own, and
// one mail tells them; removing and adding again mails no one.
func TestContacts_AddingBackCompletesThePair(t *testing.T) { contactsAddingBack(t, oneNode) }

func contactsAddingBack(t *testing.T, on topologyOf) {
	peer := ferrytest.StartSMTP(t)
	tp := on(t, peer.Configure)
	ann := tp.user(tp.a, "ann@example.com", "Ann Archer")
	bob := tp.user(tp.b, "bob@example.com", "Bob Baker")
	ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}}).requireStatus(http.StatusOK)
	peer.WaitMails(1)
	notes := bob.notifications()
	require.Len(t, notes, 1)
	assert.False(t, notes[0].Read)

	bob.postForm("/contacts/add", url.Values{"email[]": {"ann@example.com"}}).requireStatus(http.StatusOK)
	notes = bob.notifications()
	require.Len(t, notes, 1)
	assert.True(t, notes[0].Read, "Ann's request is answered")
	mails := peer.WaitMails(2)
	back := mails[1].Parse(t)
	assert.Equal(t, []string{"ann@example.com"}, mails[1].To)
	assert.Equal(t, "Bob Baker added you back", back.Subject(t))
	assert.Empty(t, ann.notifications(), "no request to the person who asked")
	assert.Contains(t, back.Body, "you are in each other's contacts on ferry now")
	assert.Equal(t, []contactRow{{FullName: "Bob Baker", Email: "bob@example.com"}}, ann.contacts(""))
	assert.Equal(t, []contactRow{{FullName: "Ann Archer", Email: "ann@example.com"}}, bob.contacts(""))

	bob.postForm("/contacts/remove", url.Values{"email": {"ann@example.com"}}).requireStatus(http.StatusOK)
	bob.postForm("/contacts/add", url.Values{"email[]": {"ann@example.com"}}).requireStatus(http.StatusOK)
	tp.quiet()
	assert.Empty(t, ann.notifications())
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, peer.Received(), 2, "no mail for adding again")
}

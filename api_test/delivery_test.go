package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// outsider is someone without an account at a file request: its token,
// the delivery they started, and the password they give.
type outsider struct {
	c                   *client
	token, delivery, pw string
}

// makeRequest makes a file request of c's and returns its id and token.
func makeRequest(c *client, form url.Values) (uint64, string) {
	c.t.Helper()
	var made struct {
		ID  uint64
		URL string
	}
	c.postForm("/requests", form).requireStatus(http.StatusOK).decode(&made)
	return made.ID, made.URL[strings.LastIndexByte(made.URL, '/')+1:]
}

// withPassword sets the request's password on req as HTTP Basic auth
// does (any user name).
func (o *outsider) withPassword(req *http.Request) *http.Request {
	if o.pw != "" {
		req.SetBasicAuth("anyone", o.pw)
	}
	return req
}

// start begins a delivery.
func (o *outsider) start(name, email string) *response {
	o.c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, o.c.base+"/r/"+o.token+"/start",
		strings.NewReader(url.Values{"name": {name}, "email": {email}}.Encode()))
	require.NoError(o.c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := o.c.do(o.withPassword(req))
	if r.Status == http.StatusOK {
		var out struct{ Delivery string }
		r.decode(&out)
		o.delivery = out.Delivery
	}
	return r
}

// put puts body as the file name; a reader that is not a *bytes.Reader
// goes without a length (chunked).
func (o *outsider) put(name string, body io.Reader) *response {
	o.c.t.Helper()
	req, err := http.NewRequest(http.MethodPut, o.c.base+"/r/"+o.token+"/"+o.delivery+"?"+url.Values{"name": {name}}.Encode(), body)
	require.NoError(o.c.t, err)
	return o.c.do(o.withPassword(req))
}

func (o *outsider) finish() *response {
	o.c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, o.c.base+"/r/"+o.token+"/"+o.delivery+"/finish", nil)
	require.NoError(o.c.t, err)
	return o.c.do(o.withPassword(req))
}

// stored is PUT's answer.
type stored struct {
	File   string
	Size   int64
	SHA256 string
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// An outsider's whole visit: no account, files and a folder's file put
// (a name taken in the delivery gets a free one), a receipt with each
// SHA-256; finished, one REQUEST message in the requester's inbox with the
// name and email given, one mail to the requester and none to the
// outsider; accepted, the files land in a folder of the delivery below
// the request's folder; the request counts the upload, and the log says
// who uploaded what.
func TestDelivery_WholeVisit(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, longTokens, peer.Configure)
	alice := ts.namedUser("alice@example.com", "Alice Owner")
	reqID, token := makeRequest(alice, url.Values{"title": {"Tax papers"}, "expires": {"86400"}, "message": {"Receipts, please"}})
	o := &outsider{c: ts.client(), token: token}

	o.start("Olga Outsider", "Olga@Example.org").requireStatus(http.StatusOK)
	require.NotEmpty(t, o.delivery)
	files := map[string][]byte{"receipt.pdf": bytes.Repeat([]byte("r"), 5000), "scans/p1.png": []byte("page one"), "scans/p2.png": []byte("page two")}
	for _, name := range []string{"receipt.pdf", "scans/p1.png", "scans/p2.png"} {
		var s stored
		o.put(name, bytes.NewReader(files[name])).requireStatus(http.StatusOK).decode(&s)
		assert.Equal(t, name, s.File)
		assert.Equal(t, int64(len(files[name])), s.Size)
		assert.Equal(t, sha256Hex(files[name]), s.SHA256)
	}
	var again stored
	o.put("receipt.pdf", strings.NewReader("a second receipt")).requireStatus(http.StatusOK).decode(&again)
	assert.Equal(t, "receipt (1).pdf", again.File, "an outsider never replaces a file")
	o.put("receipt.pdf/inside.txt", strings.NewReader("x")).requireError(409, ferry.EFILEEXISTS)
	var folderName stored
	o.put("scans", strings.NewReader("a file named as a folder of the upload")).requireStatus(http.StatusOK).decode(&folderName)
	assert.Equal(t, "scans (1)", folderName.File)
	files["scans (1)"] = []byte("a file named as a folder of the upload")
	o.put("../escape.txt", strings.NewReader("x")).requireError(400, ferry.EBADREQUEST)
	o.put("", strings.NewReader("x")).requireError(400, ferry.EBADREQUEST)
	assert.Empty(t, alice.inbox(), "nothing reaches the inbox before the delivery is finished")

	var done struct {
		Files int
		Size  int64
	}
	o.finish().requireStatus(http.StatusOK).decode(&done)
	assert.Equal(t, 5, done.Files)
	assert.Equal(t, int64(5000+8+8+16+38), done.Size)
	o.finish().requireError(404, ferry.EUPLOADNOTFOUND)
	o.put("late.txt", strings.NewReader("x")).requireError(404, ferry.EUPLOADNOTFOUND)

	inbox := alice.inbox()
	require.Len(t, inbox, 1)
	m := inbox[0]
	assert.Equal(t, "REQUEST", m.Type)
	assert.Equal(t, reqID, m.Request)
	assert.Equal(t, "Olga Outsider", m.SenderName)
	assert.Equal(t, "olga@example.org", m.SenderEmail)
	assert.Equal(t, "Requests/Tax papers/Olga Outsider", m.Destination)
	assert.Equal(t, done.Size, m.Size)
	assert.Empty(t, m.Scan)

	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"alice@example.com"}, mails[0].To, "the requester is told; the outsider never is")
	mail := mails[0].Parse(t)
	assert.Equal(t, `Files arrived for your request "Tax papers"`, mail.Subject(t))
	assert.Contains(t, mail.Body, "Olga Outsider (olga@example.org) uploaded 5 files")
	assert.Contains(t, mail.Body, "ferry did not check them")
	assert.Equal(t, []string{ts.Root + "/inbox"}, mail.Links())

	alice.decide(accept(m.ID)).requireStatus(http.StatusOK)
	for name, content := range files {
		assert.Equal(t, content, alice.getFile("Requests/Tax papers/Olga Outsider/"+name).Body)
	}
	assert.Equal(t, []byte("a second receipt"), alice.getFile("Requests/Tax papers/Olga Outsider/receipt (1).pdf").Body)

	var list []fileRequest
	alice.get("/requests", nil).requireStatus(http.StatusOK).decode(&list)
	assert.Equal(t, 1, list[0].Uploads)
	events := activity(alice, nil)
	require.Equal(t, "request_upload", events[1].Action, "an outsider's upload is in the requester's log")
	assert.Equal(t, "outsider", events[1].Actor)
	assert.Equal(t, "Tax papers", events[1].Target)
	assert.Equal(t, "olga@example.org", events[1].Detail["email"])
	assert.EqualValues(t, 5, events[1].Detail["files"])
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, peer.Received(), 1, "one mail a delivery")
}

// The bounds a request sets, checked while bytes arrive: max_size over
// the whole delivery (a body without a length is cut off there, and
// nothing of it is kept), max_files; a finish without files; bad emails
// and names.
func TestDelivery_RequestLimits(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Small"}, "expires": {"3600"}, "max_files": {"2"}, "max_size": {"1000"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("", "not an email").requireError(400, ferry.EINVALIDEMAIL)
	o.start(strings.Repeat("n", 101), "o@example.org").requireError(400, ferry.EBADREQUEST)
	o.start("", "o@example.org").requireStatus(http.StatusOK)
	o.finish().requireError(400, ferry.EBADREQUEST)

	blobs := ts.blobFiles()
	o.put("big.bin", bytes.NewReader(make([]byte, 1001))).requireError(413, ferry.ETOOLARGE) // declared
	o.put("big.bin", io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("y", 600)))).
		requireError(413, ferry.ETOOLARGE) // found while it arrives
	o.put("a.txt", bytes.NewReader(make([]byte, 700))).requireStatus(http.StatusOK)
	o.put("b.txt", bytes.NewReader(make([]byte, 301))).requireError(413, ferry.ETOOLARGE) // counted over the delivery
	o.put("b.txt", bytes.NewReader(make([]byte, 300))).requireStatus(http.StatusOK)
	o.put("c.txt", bytes.NewReader(nil)).requireError(413, ferry.ETOOLARGE) // max_files
	assert.Equal(t, blobs+2, ts.blobFiles(), "nothing of a refused file is kept")
	o.finish().requireStatus(http.StatusOK)
	require.Len(t, alice.inbox(), 1)
	assert.Equal(t, "Requests/Small/o@example.org", alice.inbox()[0].Destination, "without a name, the email names the folder")
}

// A request's password: start, each PUT and the finish need it (as Basic
// auth or the field); wrong ones are failed logins and run into the
// limit; another request's token or a made-up delivery are refused; a
// revoked request ends its deliveries; an outsider reads nothing.
func TestDelivery_PasswordAndStrangers(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Auth.LoginFailureBurst = 4 })
	alice := ts.newUser("alice@example.com")
	id, token := makeRequest(alice, url.Values{"title": {"Locked"}, "expires": {"3600"}, "password": {"open sesame"}})
	_, other := makeRequest(alice, url.Values{"title": {"Other"}, "expires": {"3600"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("Olga", "o@example.org").requireError(403, ferry.EAUTHFAILED)
	o.pw = "open sesame"
	o.start("Olga", "o@example.org").requireStatus(http.StatusOK)
	o.put("a.txt", strings.NewReader("a")).requireStatus(http.StatusOK)
	o.pw = ""
	o.put("b.txt", strings.NewReader("b")).requireError(403, ferry.EAUTHFAILED)
	// The field works as well as Basic auth.
	o.c.request(http.MethodPut, "/r/"+token+"/"+o.delivery+"?name=b.txt&password=open+sesame", strings.NewReader("b"), "").requireStatus(http.StatusOK)
	o.pw = "wrong"
	o.finish().requireError(403, ferry.EAUTHFAILED)

	stranger := &outsider{c: ts.client(), token: other, delivery: o.delivery}
	stranger.put("c.txt", strings.NewReader("c")).requireError(404, ferry.EUPLOADNOTFOUND)
	stranger.finish().requireError(404, ferry.EUPLOADNOTFOUND)
	stranger.delivery = "made-up"
	stranger.put("c.txt", strings.NewReader("c")).requireError(404, ferry.EUPLOADNOTFOUND)
	for _, path := range []string{"/r/" + token + "/" + o.delivery, "/r/" + token + "/" + o.delivery + "/finish"} {
		assert.Contains(t, []int{404, 405}, ts.client().get(path, nil).Status, "an outsider cannot read or list a delivery")
	}

	o.pw = "wrong"
	var last *response
	for range 4 {
		last = o.put("d.txt", strings.NewReader("d"))
	}
	last.requireError(429, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, last.Header.Get("Retry-After"))

	alice.postForm("/requests/revoke", url.Values{"id": {strconv.FormatUint(id, 10)}}).requireStatus(http.StatusOK)
	ts.Clock.Advance(2 * time.Minute) // the failed-login limit refills
	o.pw = "open sesame"
	o.finish().requireError(410, ferry.ELINKEXPIRED)
	assert.Empty(t, alice.inbox())
}

// Bounds per client address and per request: deliveries started an hour,
// and bytes a day, counted while they arrive.
func TestDelivery_AbuseBounds(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) {
		c.Requests.AddressDeliveriesPerHour = 2
		c.Requests.AddressBytesPerDay = 100 << 10
	})
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Open"}, "expires": {"86400"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("", "bad").requireError(400, ferry.EINVALIDEMAIL) // a refused start does not count
	o.start("", "a@example.org").requireStatus(http.StatusOK)
	first := o.delivery
	o.start("", "b@example.org").requireStatus(http.StatusOK)
	r := o.start("", "c@example.org")
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))

	o.delivery = first
	o.put("a.bin", bytes.NewReader(make([]byte, 60<<10))).requireStatus(http.StatusOK)
	r = o.put("b.bin", io.MultiReader(bytes.NewReader(make([]byte, 60<<10))))
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	ts.Clock.Advance(time.Hour)
	o.start("", "c@example.org").requireStatus(http.StatusOK)
}

// A delivery left unfinished is dropped after a day, its bytes with it.
func TestDelivery_UnfinishedIsDropped(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Open"}, "expires": {"604800"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("", "a@example.org").requireStatus(http.StatusOK)
	blobs := ts.blobFiles()
	o.put("a.bin", bytes.NewReader(bytes.Repeat([]byte("unfinished"), 100))).requireStatus(http.StatusOK)
	ts.requireBlobs(blobs + 1)
	ts.Clock.Advance(23 * time.Hour)
	time.Sleep(300 * time.Millisecond) // sweeps run
	ts.requireBlobs(blobs+1, "kept within the day")
	ts.Clock.Advance(time.Hour)
	o.put("b.bin", strings.NewReader("b")).requireError(404, ferry.EUPLOADNOTFOUND)
	require.Eventually(t, func() bool { return ts.blobFiles() == blobs }, 5*time.Second, 50*time.Millisecond, "its bytes are reclaimed")
	o.finish().requireError(404, ferry.EUPLOADNOTFOUND)
	assert.Empty(t, alice.inbox())
}

// The request's page without JavaScript: the password form, then the
// upload form posted as multipart (fields first, then the files, each
// delivered as it arrives), answered with the receipt; a cross-site post
// changes nothing; the page sets no cookie.
func TestDelivery_PageWithoutJavaScript(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.namedUser("alice@example.com", "Alice Owner")
	_, token := makeRequest(alice, url.Values{"title": {"Papers"}, "expires": {"3600"}, "password": {"open sesame"}})
	b := ts.browser()
	r := b.get("/r/" + token)
	r.requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), "This request has a password")
	assert.Contains(t, string(r.Body), "Alice Owner</strong> asks you for files")
	assert.Empty(t, r.Header.Values("Set-Cookie"))
	r = b.post("/r/"+token, url.Values{"password": {"wrong"}})
	r.requireStatus(http.StatusForbidden)
	assert.Contains(t, string(r.Body), "not the request's password")
	r = b.post("/r/"+token, url.Values{"password": {"open sesame"}})
	r.requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), `id="deliver"`)

	form := func(password string, files map[string]string) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		require.NoError(t, mw.WriteField("password", password))
		require.NoError(t, mw.WriteField("name", "Olga"))
		require.NoError(t, mw.WriteField("email", "olga@example.org"))
		for _, name := range []string{"a.txt", "b.txt"} {
			if content, ok := files[name]; ok {
				w, err := mw.CreateFormFile("file", name)
				require.NoError(t, err)
				_, _ = w.Write([]byte(content))
			}
		}
		require.NoError(t, mw.Close())
		return &buf, mw.FormDataContentType()
	}
	files := map[string]string{"a.txt": "first file", "b.txt": "second file"}
	body, ct := form("open sesame", files)
	b.do(http.MethodPost, "/r/"+token+"/upload", body, ct, "https://evil.example").requireStatus(http.StatusForbidden)
	assert.Empty(t, alice.inbox(), "a cross-site post delivers nothing")
	body, ct = form("wrong", files)
	b.do(http.MethodPost, "/r/"+token+"/upload", body, ct, "").requireStatus(http.StatusForbidden)
	body, ct = form("open sesame", files)
	r = b.do(http.MethodPost, "/r/"+token+"/upload", body, ct, "")
	r.requireStatus(http.StatusOK)
	page := string(r.Body)
	assert.Contains(t, page, "2 files, 21 B</strong> went to Alice Owner")
	assert.Contains(t, page, sha256Hex([]byte("first file")))
	assert.Contains(t, page, sha256Hex([]byte("second file")))
	in := alice.inbox()
	require.Len(t, in, 1)
	assert.Equal(t, "REQUEST", in[0].Type)
	assert.Equal(t, int64(21), in[0].Size)
}

// A requester whose inbox is full (send.max_pending) takes no delivery:
// a start is refused before anything is uploaded, and the page says the
// request is full for now; once the inbox has room, it works again.
func TestDelivery_FullInbox(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Send.MaxPending = 1 })
	alice := ts.namedUser("alice@example.com", "Alice Owner")
	_, token := makeRequest(alice, url.Values{"title": {"Papers"}, "expires": {"3600"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("", "a@example.org").requireStatus(http.StatusOK)
	o.put("a.txt", strings.NewReader("a")).requireStatus(http.StatusOK)
	o.finish().requireStatus(http.StatusOK)
	r := o.start("", "b@example.org")
	r.requireError(403, ferry.EQUOTAEXCEEDED)
	assert.Contains(t, string(r.Body), "Alice Owner cannot take more files now")
	page := ts.browser().get("/r/" + token)
	page.requireStatus(http.StatusOK)
	assert.Contains(t, string(page.Body), "This file request is full for now")
	assert.NotContains(t, string(page.Body), `id="deliver"`)
	alice.decide(accept(alice.inbox()[0].ID)).requireStatus(http.StatusOK)
	o.start("", "b@example.org").requireStatus(http.StatusOK)
}

// A delivery is decided like any send: declined, nothing lands and no one
// is mailed about it (its outsider never is); over the receive quota, its
// accept is QUOTA_EXCEEDED and it waits; unanswered, it expires after
// send.expire_after and its bytes go.
func TestDelivery_DeclineQuotaAndExpiry(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, longTokens, peer.Configure)
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Papers"}, "expires": {"604800"}})
	deliver := func(email, content string) {
		o := &outsider{c: ts.client(), token: token}
		o.start("", email).requireStatus(http.StatusOK)
		o.put("f.txt", strings.NewReader(content)).requireStatus(http.StatusOK)
		o.finish().requireStatus(http.StatusOK)
	}
	blobs := ts.blobFiles()
	deliver("a@example.org", "to be declined")
	deliver("b@example.org", strings.Repeat("over the quota ", 100))
	deliver("c@example.org", "to expire")
	peer.WaitMails(3) // one to Alice a delivery
	in := alice.inbox()
	require.Len(t, in, 3)

	alice.decide(`[{"id":` + strconv.FormatUint(in[0].ID, 10) + `,"accept":"NO"}]`).requireStatus(http.StatusOK)
	alice.getFile("Requests/Papers/a@example.org/f.txt").requireError(404, ferry.EFILENOTFOUND)

	receive := int64(100)
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Receive: &receive})
	require.NoError(t, err)
	r := alice.decide(accept(in[1].ID))
	r.requireStatus(http.StatusAccepted)
	assert.Contains(t, string(r.Body), ferry.EQUOTAEXCEEDED)
	require.Len(t, alice.inbox(), 2, "it waits")

	ts.Clock.Advance(31 * 24 * time.Hour)
	require.Eventually(t, func() bool { return len(alice.inbox()) == 0 }, 5*time.Second, 50*time.Millisecond, "unanswered, they expire")
	require.Eventually(t, func() bool { return ts.blobFiles() == blobs }, 5*time.Second, 50*time.Millisecond, "and their bytes go")
	time.Sleep(300 * time.Millisecond)
	for _, m := range peer.Received() {
		assert.Equal(t, []string{"alice@example.com"}, m.To, "no mail to an outsider, nor about their decided delivery")
	}
}

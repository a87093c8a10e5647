package api_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
	"github.com/ferryhq/ferry/front"
)

// browser is a web app client: a cookie jar, no redirects followed, and
// the headers a browser sends on its own pages.
type browser struct {
	t    *testing.T
	root string
	http *http.Client
}

func (ts *testServer) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(ts.t, err)
	return &browser{t: ts.t.(*testing.T), root: ts.Root, http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request as a page of origin would (Origin and Sec-Fetch-Site
// as browsers set them); origin "" is ferry's own.
func (b *browser) do(method, path string, body io.Reader, contentType, origin string, header ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.root+path, body)
	require.NoError(b.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if method != http.MethodGet && method != http.MethodHead {
		if origin == "" {
			req.Header.Set("Origin", b.root)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		} else {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return (&client{t: b.t, http: b.http}).do(req)
}

func (b *browser) get(path string) *response { return b.do(http.MethodGet, path, nil, "", "") }

func (b *browser) post(path string, form url.Values) *response {
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", "")
}

func (b *browser) signIn(email, password string) {
	b.t.Helper()
	r := b.post("/login", url.Values{"email": {email}, "password": {password}})
	require.Equal(b.t, http.StatusSeeOther, r.Status, "%s", r.Body)
	require.Equal(b.t, "/files/", r.Header.Get("Location"))
}

// The web app's pages: sign-in with a cookie that holds an API-kind token
// and authenticates nothing of the API, the page policy, folder actions
// without JavaScript, and sign-out that ends the token.
func TestWeb_SignInFolderAndSignOut(t *testing.T) {
	ts := startServer(t)
	ts.addUser("webby@example.com", "webby password")
	b := ts.browser()

	r := b.get("/")
	assert.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, "/login", r.Header.Get("Location"))
	r = b.get("/files/")
	assert.Equal(t, "/login?next=%2Ffiles%2F", r.Header.Get("Location"))
	r = b.get("/login").requireStatus(http.StatusOK)
	assert.Equal(t, front.PagePolicy, r.Header.Get("Content-Security-Policy"))
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
	assert.NotContains(t, string(r.Body), "<script>", "no inline script")
	assert.NotContains(t, string(r.Body), "style=", "no inline style")

	r = b.post("/login", url.Values{"email": {"webby@example.com"}, "password": {"wrong password"}})
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "Wrong email or password.")
	r = b.post("/login", url.Values{"email": {"webby@example.com"}, "password": {"webby password"}, "next": {"//evil.example/x"}})
	require.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, "/files/", r.Header.Get("Location"), "next never leaves the site")
	cookie := r.Header.Get("Set-Cookie")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Lax")
	assert.NotContains(t, cookie, "Secure", "public_url is http here")
	token := strings.TrimPrefix(strings.Split(cookie, ";")[0], "ferry=")

	// The cookie's token is an API token, but the cookie alone is not
	// the API's credential.
	api := ts.client()
	api.token = token
	api.get("/ops/list", url.Values{"path": {""}}).requireStatus(http.StatusOK)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/ops/list?path=", nil)
	req.AddCookie(&http.Cookie{Name: "ferry", Value: token})
	ts.client().do(req).requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)

	// Make a folder, upload into it by the plain form, rename, copy, move,
	// delete: each a POST form and a redirect to the folder.
	r = b.post("/mkdir/", url.Values{"name": {"Reports <2026>"}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range []struct{ name, content string }{{"a.txt", "alpha"}, {"<b>.html", "<script>alert(1)</script>"}} {
		fw, err := mw.CreateFormFile("file", f.name)
		require.NoError(t, err)
		_, _ = fw.Write([]byte(f.content))
	}
	require.NoError(t, mw.Close())
	r = b.do(http.MethodPost, "/upload/Reports%20%3C2026%3E", &body, mw.FormDataContentType(), "")
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/Reports%20%3C2026%3E", r.Header.Get("Location"))
	// A part that is no file is refused, not read.
	body.Reset()
	mw = multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("junk", strings.Repeat("j", 1000)))
	require.NoError(t, mw.Close())
	r = b.do(http.MethodPost, "/upload/", &body, mw.FormDataContentType(), "")
	assert.Equal(t, http.StatusBadRequest, r.Status)
	page := string(b.get("/files/Reports%20%3C2026%3E").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "&lt;b&gt;.html", "names are escaped")
	assert.NotContains(t, page, "<b>.html")
	assert.Contains(t, page, "a.txt")

	b.post("/rename/Reports%20%3C2026%3E/a.txt", url.Values{"name": {"renamed.txt"}}).requireStatus(http.StatusSeeOther)
	b.post("/copy/Reports%20%3C2026%3E/renamed.txt", url.Values{"to": {""}}).requireStatus(http.StatusSeeOther)
	b.post("/mkdir/", url.Values{"name": {"Archive"}}).requireStatus(http.StatusSeeOther)
	b.post("/move/renamed.txt", url.Values{"to": {"Archive"}}).requireStatus(http.StatusSeeOther)
	c := ts.login("webby@example.com", "webby password")
	assert.Equal(t, []byte("alpha"), c.getFile("Archive/renamed.txt").Body)
	assert.Equal(t, []byte("alpha"), c.getFile("Reports <2026>/renamed.txt").Body)
	r = b.post("/rename/Archive/renamed.txt", url.Values{"name": {"../x"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html", "errors are pages, not JSON")
	assert.Contains(t, string(b.get("/delete/Archive").requireStatus(http.StatusOK).Body), "will be deleted")
	b.post("/delete/Archive", nil).requireStatus(http.StatusSeeOther)
	c.getFile("Archive/renamed.txt").requireError(http.StatusNotFound, ferry.EFILENOTFOUND)

	// A folder downloads as a zip of what it holds, empty folders too.
	b.post("/mkdir/Reports%20%3C2026%3E", url.Values{"name": {"empty"}}).requireStatus(http.StatusSeeOther)
	r = b.get("/download/Reports%20%3C2026%3E").requireStatus(http.StatusOK)
	assert.Equal(t, "application/zip", r.Header.Get("Content-Type"))
	assert.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	zr, err := zip.NewReader(bytes.NewReader(r.Body), int64(len(r.Body)))
	require.NoError(t, err)
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		got[f.Name] = string(b)
	}
	assert.Equal(t, map[string]string{"<b>.html": "<script>alert(1)</script>", "renamed.txt": "alpha", "empty/": ""}, got)
	// A file downloads as an attachment in a sandbox, never as a page.
	r = b.get("/download/Reports%20%3C2026%3E/%3Cb%3E.html").requireStatus(http.StatusOK)
	assert.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "sandbox")

	// Signing out ends the token: the old cookie gets the sign-in page.
	b.do(http.MethodPost, "/logout", nil, "", "").requireStatus(http.StatusSeeOther)
	api.get("/ops/list", url.Values{"path": {""}}).requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)
	old := ts.browser()
	u, _ := url.Parse(ts.Root)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "ferry", Value: token}})
	assert.Equal(t, "/login?next=%2Ffiles%2F", old.get("/files/").Header.Get("Location"))
}

// A request from another site cannot change anything with the victim's
// cookie: every form and call of the web app is refused before it runs.
func TestWeb_CrossSiteRequestsChangeNothing(t *testing.T) {
	ts := startServer(t)
	ts.addUser("victim@example.com", "victim password")
	c := ts.login("victim@example.com", "victim password")
	c.mustPut("keep.txt", []byte("keep"))
	b := ts.browser()
	b.signIn("victim@example.com", "victim password")

	const evil = "http://127.0.0.1:1"
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"POST", "/delete/keep.txt", nil},
		{"POST", "/rename/keep.txt", url.Values{"name": {"stolen.txt"}}},
		{"POST", "/mkdir/", url.Values{"name": {"evil"}}},
		{"POST", "/link/keep.txt", url.Values{"days": {"7"}}},
		{"POST", "/settings/app-password", nil},
		{"POST", "/uploads/start", url.Values{"path": {"evil.bin"}, "size": {"3"}}},
		{"POST", "/logout", nil},
		{"POST", "/send/", url.Values{"item": {"keep.txt"}, "to": {"victim@example.com"}}},
		{"POST", "/inbox", url.Values{"all": {"1"}, "accept": {"0"}}},
		{"POST", "/contacts", url.Values{"email": {"evil@example.com"}}},
		{"POST", "/settings/password", url.Values{"current_password": {"victim password"}, "new_password": {"evil password"}}},
	} {
		r := b.do(tc.method, tc.path, strings.NewReader(tc.form.Encode()), "application/x-www-form-urlencoded", evil)
		assert.Equal(t, http.StatusForbidden, r.Status, "%s %s", tc.method, tc.path)
	}
	// A form of an old browser without Sec-Fetch-Site, by its Origin.
	r := b.do(http.MethodPost, "/delete/keep.txt", nil, "", "", "Origin", evil, "Sec-Fetch-Site", "")
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Equal(t, []byte("keep"), c.getFile("keep.txt").Body)
	entries := c.list("")
	require.Len(t, entries, 1)
	assert.Equal(t, http.StatusOK, b.get("/files/").Status, "still signed in")
}

// Download links: a browser gets a page, any other client the file; a gone
// link is a page for a browser and the API's error for others.
func TestWeb_LinkPagesAndDavPage(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("linker@example.com")
	c.mustPut("report.pdf", []byte("%PDF-1.4 report"))
	var link struct{ URL string }
	c.postForm("/files/link", url.Values{"path": {"report.pdf"}}).requireStatus(http.StatusOK).decode(&link)
	path := strings.TrimPrefix(link.URL, ts.Root)
	b := ts.browser()

	r := b.get(path).requireStatus(http.StatusOK)
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(r.Body), "report.pdf")
	assert.Contains(t, string(r.Body), "15 B")
	assert.Contains(t, string(r.Body), path+"?download=1")
	assert.Equal(t, []byte("%PDF-1.4 report"), b.get(path+"?download=1").requireStatus(http.StatusOK).Body)
	req, err := http.NewRequest(http.MethodGet, link.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "*/*") // as curl sends
	curl := ts.client().do(req)
	curl.requireStatus(http.StatusOK)
	assert.Equal(t, []byte("%PDF-1.4 report"), curl.Body)

	r = b.get("/d/no-such-link")
	assert.Equal(t, http.StatusGone, r.Status)
	assert.Contains(t, string(r.Body), "This link does not work")
	req, _ = http.NewRequest(http.MethodGet, ts.Root+"/d/no-such-link", nil)
	ts.client().do(req).requireError(http.StatusGone, ferry.ELINKEXPIRED)

	// A browser at /dav/ gets a page that points to the settings; WebDAV
	// clients are unaffected.
	r = b.get("/dav/").requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), "/settings#webdav")
	d := ts.dav(c)
	d.do("PROPFIND", "/", nil, "Depth", "1").requireStatus(http.StatusMultiStatus)
	req, _ = http.NewRequest(http.MethodGet, ts.Root+"/dav/", nil)
	ts.client().do(req).requireStatus(http.StatusUnauthorized)

	// The API keeps its JSON 404s and 405s beside the web app.
	ts.client().request(http.MethodGet, "/no/such/route", nil, "").requireError(http.StatusNotFound, ferry.ENOTFOUND)
	ts.client().request(http.MethodDelete, "/ops/list", nil, "").requireError(http.StatusMethodNotAllowed, ferry.EMETHODNOTALLOWED)
	assert.Equal(t, http.StatusNotFound, b.get("/no/such/page").Status)
}

// A folder page is small: under 100 KB with its script and style for a
// folder of 100 entries, and a folder of 250 is two pages.
func TestWeb_FolderPagesAreSmall(t *testing.T) {
	ts := startServer(t)
	ts.addUser("many@example.com", "many password")
	c := ts.login("many@example.com", "many password")
	for i := range 250 {
		c.postForm("/ops/mkdir", url.Values{"path": {fmt.Sprintf("big/folder %03d", i)}}).requireStatus(http.StatusOK)
		if i < 100 {
			c.postForm("/ops/mkdir", url.Values{"path": {fmt.Sprintf("hundred/folder %03d", i)}}).requireStatus(http.StatusOK)
		}
	}
	b := ts.browser()
	b.signIn("many@example.com", "many password")
	page := b.get("/files/hundred").requireStatus(http.StatusOK)
	assert.Equal(t, 100, strings.Count(string(page.Body), "More…"))
	total := len(page.Body)
	assets := map[string]bool{} // each fetched once, as a browser does (the icons: one file)
	for _, asset := range regexp.MustCompile(`(?:href|src)="(/static/[^"#]+)`).FindAllStringSubmatch(string(page.Body), -1) {
		assets[html.UnescapeString(asset[1])] = true
	}
	assert.Len(t, assets, 4, "style, script, favicon and icons: %v", assets)
	for asset := range assets {
		r := b.get(asset).requireStatus(http.StatusOK)
		assert.Contains(t, r.Header.Get("Cache-Control"), "immutable")
		total += len(r.Body)
	}
	assert.Less(t, total, 100_000, "bytes of the page, its script and its style")

	first := string(b.get("/files/big?sort=name").requireStatus(http.StatusOK).Body)
	assert.Equal(t, 200, strings.Count(first, "More…"))
	assert.Contains(t, first, "Page 1 of 2")
	assert.Contains(t, first, "folder 000")
	second := string(b.get("/files/big?sort=name&page=1").requireStatus(http.StatusOK).Body)
	assert.Equal(t, 50, strings.Count(second, "More…"))
	assert.Contains(t, second, "folder 249")
	desc := string(b.get("/files/big?sort=name&order=desc").requireStatus(http.StatusOK).Body)
	assert.Less(t, strings.Index(desc, "folder 249"), strings.Index(desc, "folder 248"))
}

// The session's rules: the API's failed-login limit, the token's idle
// timeout, signup into the app, and a Secure __Host- cookie when
// public_url is https.
func TestWeb_SessionRules(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Auth.Signup = "open"
		c.Auth.LoginFailureBurst = 3
	})
	ts.addUser("limited@example.com", "limited password")
	b := ts.browser()
	for range 3 {
		r := b.post("/login", url.Values{"email": {"limited@example.com"}, "password": {"wrong password"}})
		require.Equal(t, http.StatusForbidden, r.Status)
	}
	r := b.post("/login", url.Values{"email": {"limited@example.com"}, "password": {"limited password"}})
	assert.Equal(t, http.StatusTooManyRequests, r.Status)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Contains(t, string(r.Body), "Too many failed logins")
	ts.client().postForm("/auth/token", url.Values{"email": {"limited@example.com"}, "password": {"limited password"}}).
		requireError(http.StatusTooManyRequests, ferry.ETOOMANYREQUESTS)

	// Signup goes on into the app, signed in (another client address is
	// not needed: a signup is limited the same way, and this one is good).
	ts.Clock.Advance(time.Hour) // the limit refills
	s := ts.browser()
	r = s.post("/signup", url.Values{"email": {"new@example.com"}, "password": {"new password"}, "fullname": {"New Person"}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/", r.Header.Get("Location"))
	s.get("/files/").requireStatus(http.StatusOK)
	r = ts.browser().post("/signup", url.Values{"email": {"new@example.com"}, "password": {"new password"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html")

	// The token behind the cookie ends after auth.token_idle_timeout.
	ts.Clock.Advance(time.Duration(ts.Cfg.Auth.TokenIdleTimeout) + time.Second)
	r = s.get("/files/")
	assert.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, "/login?next=%2Ffiles%2F", r.Header.Get("Location"))

	// Over https the cookie is Secure and host-only (__Host-).
	secure := startServer(t, func(c *app.Config) { c.PublicURL = "https://ferry.example" })
	secure.addUser("tls@example.com", "tls password")
	b = secure.browser()
	b.root = "http://" + secure.Addr
	r = b.post("/login", url.Values{"email": {"tls@example.com"}, "password": {"tls password"}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	cookie := r.Header.Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(cookie, "__Host-ferry="), cookie)
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		assert.Contains(t, cookie, attr)
	}
	assert.NotContains(t, cookie, "Domain=")
}

// Without JavaScript an upload over the quota ends on a page that says so
// (not JSON) and keeps nothing; a file downloads with its name.
func TestWeb_FormUploadOverQuota(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages = map[string]app.Package{"free": {Storage: 1000}}
	})
	ts.addUser("small@example.com", "small password")
	b := ts.browser()
	b.signIn("small@example.com", "small password")
	upload := func(name string, size int) *response {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("file", name)
		require.NoError(t, err)
		_, _ = fw.Write(bytes.Repeat([]byte("x"), size))
		require.NoError(t, mw.Close())
		return b.do(http.MethodPost, "/upload/", &body, mw.FormDataContentType(), "")
	}
	upload("fits.txt", 600).requireStatus(http.StatusSeeOther)
	r := upload("too big.txt", 600)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(r.Body), "Not enough storage")
	page := string(b.get("/files/").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "fits.txt")
	assert.NotContains(t, page, "too big.txt")

	r = b.get("/download/fits.txt").requireStatus(http.StatusOK)
	disposition, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
	require.NoError(t, err)
	assert.Equal(t, "attachment", disposition)
	assert.Equal(t, "fits.txt", params["filename"])
	assert.Len(t, r.Body, 600)
}

// The settings page deletes the account, given its password, and signs out.
func TestWeb_DeleteAccount(t *testing.T) {
	ts := startServer(t)
	ts.login(ts.addUser("leo@example.com", password), password).mustPut("a.txt", []byte("a"))
	b := ts.browser()
	b.signIn("leo@example.com", password)
	assert.Contains(t, string(b.get("/settings").requireStatus(http.StatusOK).Body), "Delete my account")
	r := b.post("/settings/delete", url.Values{"current_password": {"not it"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "The current password is wrong.")
	r = b.post("/settings/delete", url.Values{"current_password": {password}}).requireStatus(http.StatusSeeOther)
	assert.Equal(t, "/login?deleted=1", r.Header.Get("Location"))
	assert.Contains(t, string(b.get("/login?deleted=1").requireStatus(http.StatusOK).Body), "Your account is deleted")
	assert.Equal(t, "/login?next=%2Ffiles%2F", b.get("/files/").requireStatus(http.StatusSeeOther).Header.Get("Location"))
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: "leo@example.com", Password: password})
	require.NoError(t, err, "the email is free again")
}

// The settings page turns the decision mails off and on.
func TestWeb_MailSetting(t *testing.T) {
	ts := startServer(t)
	c := ts.login(ts.addUser("mia@example.com", password), password)
	b := ts.browser()
	b.signIn("mia@example.com", password)
	assert.Contains(t, string(b.get("/settings").requireStatus(http.StatusOK).Body), "You get a mail when what you sent")
	b.post("/settings/mail", url.Values{"mail_on_decision": {"0"}}).requireStatus(http.StatusSeeOther)
	var s struct {
		MailOnDecision bool `json:"mail_on_decision"`
	}
	c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.False(t, s.MailOnDecision)
	assert.Contains(t, string(b.get("/settings").requireStatus(http.StatusOK).Body), "You get no mail")
}

// The settings page changes the name, the photo and the password (this
// session goes on, every other credential ends); the inbox's switch
// turns accept_all on and off.
func TestWeb_Settings(t *testing.T) {
	ts := startServer(t)
	ts.addUser("set@example.com", "old password")
	b := ts.browser()
	b.signIn("set@example.com", "old password")
	other := ts.login("set@example.com", "old password")

	b.post("/settings/profile", url.Values{"fullname": {"Set <Me> Up"}}).requireStatus(http.StatusSeeOther)
	page := string(b.get("/settings?saved=name").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, `value="Set &lt;Me&gt; Up"`)
	assert.Contains(t, page, "Saved: your name.")

	// A photo: a real PNG is kept and served; anything else is refused in
	// the page.
	upload := func(name string, content []byte) *response {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("photo", name)
		require.NoError(t, err)
		_, _ = fw.Write(content)
		require.NoError(t, mw.Close())
		return b.do(http.MethodPost, "/settings/photo", &body, mw.FormDataContentType(), "")
	}
	r := upload("not.png", []byte("not an image"))
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "PNG or JPEG")
	var png bytes.Buffer
	require.NoError(t, pngEncode(&png, 40, 30))
	upload("me.png", png.Bytes()).requireStatus(http.StatusSeeOther)
	page = string(b.get("/settings").requireStatus(http.StatusOK).Body)
	token := regexp.MustCompile(`src="/photos/([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, token, "the page shows the photo")
	served := b.get("/photos/" + token[1]).requireStatus(http.StatusOK)
	assert.Equal(t, png.Bytes(), served.Body)
	b.post("/settings/photo/remove", nil).requireStatus(http.StatusSeeOther)
	assert.NotContains(t, string(b.get("/settings").Body), `src="/photos/`)

	// The password: a wrong current one is said; a right one ends the API
	// token but not this session.
	r = b.post("/settings/password", url.Values{"current_password": {"wrong"}, "new_password": {"new password"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
	other.get("/ops/list", url.Values{"path": {""}}).requireStatus(http.StatusOK)
	b.post("/settings/password", url.Values{"current_password": {"old password"}, "new_password": {"new password"}}).requireStatus(http.StatusSeeOther)
	b.get("/files/").requireStatus(http.StatusOK)
	other.get("/ops/list", url.Values{"path": {""}}).requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)
	ts.login("set@example.com", "new password")

	// accept_all, from the inbox.
	assert.Contains(t, string(b.get("/inbox").Body), "you decide on each send as it arrives.")
	b.post("/inbox/accept-all", url.Values{"accept_all": {"1"}}).requireStatus(http.StatusSeeOther)
	assert.Contains(t, string(b.get("/inbox").Body), "every send to you is accepted the moment it arrives")
	var settings struct {
		AcceptAll bool `json:"accept_all"`
	}
	elsewhere := ts.login("set@example.com", "new password")
	elsewhere.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&settings)
	assert.True(t, settings.AcceptAll)

	// Sign out everywhere else: the API token ends, this session goes on.
	b.post("/settings/sessions", nil).requireStatus(http.StatusSeeOther)
	assert.Contains(t, string(b.get("/settings?saved=sessions").requireStatus(http.StatusOK).Body), "Every other session is signed out.")
	elsewhere.get("/settings/list", nil).requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)
}

// pngEncode writes a w x h PNG.
func pngEncode(w io.Writer, width, height int) error {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	return png.Encode(w, img)
}

// An email without an account, added as a contact, can be invited from
// the page; the mail's link opens the signup page with the code filled
// in, and signing up there goes on into the app.
func TestWeb_InviteFromContacts(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, func(c *app.Config) { c.Auth.Signup = "invite" })
	ts.addUser("host@example.com", "host password")
	b := ts.browser()
	b.signIn("host@example.com", "host password")

	r := b.post("/contacts", url.Values{"email": {"guest@example.com"}})
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Contains(t, string(r.Body), "Invite guest@example.com to ferry")
	b.post("/contacts/invite", url.Values{"email": {"guest@example.com"}}).requireStatus(http.StatusSeeOther)
	assert.Contains(t, string(b.get("/contacts?invited=guest@example.com").Body), "Invited guest@example.com")

	m := peer.WaitMails(1)[0].Parse(t)
	assert.NotContains(t, m.Body, "/api/1/", "no API paths in mail")
	code := m.SignupCode(t)
	guest := ts.browser()
	page := string(guest.get("/signup?invite=" + code).requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, `value="`+code+`"`)
	r = guest.post("/signup", url.Values{"invite": {code}, "email": {"guest@example.com"}, "password": {"guest password"}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/", r.Header.Get("Location"))
	guest.get("/files/").requireStatus(http.StatusOK)
}

// The inbox page shows when each send expires: send.expire_after after
// it was sent.
func TestWeb_InboxShowsExpiry(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Send.ExpireAfter = app.Duration(72 * time.Hour) })
	alice := ts.login(ts.addUser("alice@example.com", password), password)
	ts.addUser("bob@example.com", "bob password")
	alice.mustPut("note.txt", []byte("note"))
	sent := ts.Clock.Now()
	alice.mustSend("bob@example.com", `[{"path":"","files":["note.txt"]}]`)
	b := ts.browser()
	b.signIn("bob@example.com", "bob password")
	page := string(b.get("/inbox").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, sent.Add(72*time.Hour).UTC().Format("2006-01-02 15:04"))
	assert.Contains(t, page, `aria-label="1 waiting"`, "the badge")
}

// A send names at most a folder page's worth of items (each is looked up
// before the send), and only names of the folder.
func TestWeb_SendBounds(t *testing.T) {
	ts := startServer(t)
	ts.addUser("many@example.com", "many password")
	b := ts.browser()
	b.signIn("many@example.com", "many password")
	form := url.Values{"to": {"many@example.com"}}
	for i := range 201 {
		form.Add("item", fmt.Sprintf("f%d", i))
	}
	r := b.post("/send/", form)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "at most 200 items")
	r = b.post("/send/", url.Values{"to": {"many@example.com"}, "item": {"../etc"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
}

// A folder in the inbox shows its first items and links to the whole
// send, which its sender and receiver can open and nobody else; accepted,
// it is listed under Decided with a link to where it landed (a free name,
// as Bob had a Trip folder already).
func TestWeb_InboxContentsAndWhereItLanded(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", password), password)
	bob := ts.login(ts.addUser("bob@example.com", "bob password"), "bob password")
	ts.addUser("eve@example.com", "eve password")
	for i := range 12 {
		alice.mustPut(fmt.Sprintf("Trip/day%02d.txt", i), []byte("day"))
	}
	bob.mustPut("Trip/mine.txt", []byte("mine"))
	sent := alice.mustSend("bob@example.com", `[{"path":"Trip","folder":true}]`)
	id := fmt.Sprint(sent[0])

	b := ts.browser()
	b.signIn("bob@example.com", "bob password")
	page := string(b.get("/inbox").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "· 12 items")
	assert.Contains(t, page, "day09.txt")
	assert.NotContains(t, page, "day10.txt", "ten items in the row")
	assert.Contains(t, page, `href="/sends/`+id+`">All 12 items`)
	details := string(b.get("/sends/" + id).requireStatus(http.StatusOK).Body)
	assert.Contains(t, details, "day11.txt")
	past := string(b.get("/sends/" + id + "?page=99999999999999999").requireStatus(http.StatusOK).Body)
	assert.Contains(t, past, "day11.txt", "past the last page: the last page")
	assert.NotContains(t, past, "Next →")
	assert.Contains(t, details, `name="accept" value="1"`, "the receiver decides here")

	a := ts.browser()
	a.signIn("alice@example.com", password)
	details = string(a.get("/sends/" + id).requireStatus(http.StatusOK).Body)
	assert.Contains(t, details, "day11.txt")
	assert.NotContains(t, details, `name="accept"`)
	e := ts.browser()
	e.signIn("eve@example.com", "eve password")
	assert.NotContains(t, string(e.get("/sends/"+id).requireStatus(http.StatusNotFound).Body), "day")
	e.get("/sends/x").requireStatus(http.StatusNotFound)

	b.post("/inbox", url.Values{"id": {id}, "accept": {"1"}}).requireStatus(http.StatusSeeOther)
	page = string(b.get("/inbox").requireStatus(http.StatusOK).Body)
	assert.Regexp(t, `href="/files/Trip%20%281%29"[^>]*>Trip \(1\)</a>`, page)
	b.get("/files/Trip%20%281%29").requireStatus(http.StatusOK)
	assert.Contains(t, string(b.get("/sends/"+id).requireStatus(http.StatusOK).Body), "In your folder")
	assert.NotContains(t, string(a.get("/sends/"+id).requireStatus(http.StatusOK).Body), "Trip (1)", "the sender does not see Bob's folder")
	assert.Contains(t, string(a.get("/outbox").requireStatus(http.StatusOK).Body), "accepted")
}

// An inbox of more than 100 pending sends shows them 100 a page, oldest
// first; Accept all takes every one, on every page.
func TestWeb_InboxPages(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", password), password)
	ts.addUser("bob@example.com", "bob password")
	alice.mustPut("note.txt", []byte("note"))
	for range 101 {
		alice.mustSend("bob@example.com", `[{"path":"","files":["note.txt"]}]`)
	}
	b := ts.browser()
	b.signIn("bob@example.com", "bob password")
	page := string(b.get("/inbox").requireStatus(http.StatusOK).Body)
	assert.Equal(t, 100, strings.Count(page, `aria-label="Accept note.txt"`))
	assert.Contains(t, page, "Page 1 of 2 · 101 waiting")
	assert.Contains(t, page, "Accept all 101")
	page = string(b.get("/inbox?page=1").requireStatus(http.StatusOK).Body)
	assert.Equal(t, 1, strings.Count(page, `aria-label="Accept note.txt"`))
	b.post("/inbox", url.Values{"all": {"1"}, "accept": {"1"}}).requireStatus(http.StatusSeeOther)
	assert.Contains(t, string(b.get("/inbox").requireStatus(http.StatusOK).Body), "Nothing is waiting for you.")
	assert.Len(t, ts.login("bob@example.com", "bob password").list(""), 101)
}

// A send to an email without an account offers an invitation on the send
// page (unless signup is closed); the invitation goes, and the page comes
// back with what was to go.
func TestWeb_InviteFromSendForm(t *testing.T) {
	closed := startServer(t)
	closed.login(closed.addUser("alice@example.com", password), password).mustPut("plan.txt", []byte("plan"))
	c := closed.browser()
	c.signIn("alice@example.com", password)
	r := c.post("/send/", url.Values{"item": {"plan.txt"}, "to": {"newcomer@example.com"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.NotContains(t, string(r.Body), "Invite")

	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, func(c *app.Config) { c.Auth.Signup = "invite" })
	alice := ts.login(ts.addUser("alice@example.com", password), password)
	alice.mustPut("plan.txt", []byte("plan"))
	b := ts.browser()
	b.signIn("alice@example.com", password)
	r = b.post("/send/", url.Values{"item": {"plan.txt"}, "to": {"newcomer@example.com"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	page := string(r.Body)
	assert.Contains(t, page, "No user has the email")
	assert.Contains(t, page, "Invite newcomer@example.com and send")
	assert.Contains(t, page, "Only invite them")
	back := "/send/?item=plan.txt&to=newcomer%40example.com"
	assert.Contains(t, page, `name="back" value="`+html.EscapeString(back)+`"`)

	r = b.post("/contacts/invite", url.Values{"email": {"newcomer@example.com"}, "back": {back}}).requireStatus(http.StatusSeeOther)
	assert.Equal(t, back+"&invited=newcomer%40example.com", r.Header.Get("Location"))
	page = string(b.get(r.Header.Get("Location")).requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "Invited newcomer@example.com")
	assert.Contains(t, page, `name="item" value="plan.txt"`)
	assert.Contains(t, page, `value="newcomer@example.com"`)
	assert.Equal(t, []string{"newcomer@example.com"}, peer.WaitMails(1)[0].To)

	// Only a path of the send page is a way back.
	r = b.post("/contacts/invite", url.Values{"email": {"other@example.com"}, "back": {"https://evil.example/send/"}}).requireStatus(http.StatusSeeOther)
	assert.Equal(t, "/contacts?invited=other%40example.com", r.Header.Get("Location"))

	// Invite and send, in one step: the outbox shows the send invited, and
	// one mail carries both.
	r = b.post("/send/", url.Values{"item": {"plan.txt"}, "to": {"third@example.com"}, "invite": {"1"}}).requireStatus(http.StatusSeeOther)
	assert.Equal(t, "/outbox?sent=1", r.Header.Get("Location"))
	assert.Contains(t, string(b.get("/outbox").requireStatus(http.StatusOK).Body), "status-invited")
	m := peer.WaitMails(3)[2]
	assert.Equal(t, []string{"third@example.com"}, m.To)
	assert.Contains(t, m.Parse(t).Body, "plan.txt")
}

// The New send page without JavaScript: the receiver, then the files, in
// one form; they are stored in a new folder of Sent and sent, each file
// one send. A refused receiver shows the send page of the stored files.
func TestWeb_NewSendWithoutScript(t *testing.T) {
	ts := startServer(t)
	ts.addUser("alice@example.com", password)
	bob := ts.login(ts.addUser("bob@example.com", "bob password"), "bob password")
	b := ts.browser()
	b.signIn("alice@example.com", password)
	page := string(b.get("/sends/new").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, `action="/sends/new"`)
	assert.Regexp(t, `data-folder="Sent/\d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d"`, page)

	post := func(fields [][2]string, files map[string]string) *response {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, f := range fields {
			require.NoError(t, mw.WriteField(f[0], f[1]))
		}
		for _, name := range slices.Sorted(maps.Keys(files)) {
			fw, err := mw.CreateFormFile("file", name)
			require.NoError(t, err)
			_, _ = fw.Write([]byte(files[name]))
		}
		require.NoError(t, mw.Close())
		return b.do(http.MethodPost, "/sends/new", &body, mw.FormDataContentType(), "")
	}
	r := post([][2]string{{"to", "bob@example.com"}}, map[string]string{"a.txt": "alpha", "b.txt": "beta"})
	r.requireStatus(http.StatusSeeOther)
	assert.Equal(t, "/outbox?sent=2", r.Header.Get("Location"))
	inbox := bob.inbox()
	require.Len(t, inbox, 2)
	assert.ElementsMatch(t, []string{"a.txt", "b.txt"}, []string{inbox[0].Destination, inbox[1].Destination}, "by their names, not under Sent")
	sent := ts.login("alice@example.com", password).list("Sent")
	require.Len(t, sent, 1)
	assert.Len(t, ts.login("alice@example.com", password).list(sent[0].File), 2, "a copy stays with the sender")

	r = post([][2]string{{"to", "nobody@example.com"}}, map[string]string{"c.txt": "gamma"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "No user has the email")
	assert.Contains(t, string(r.Body), `name="item" value="c.txt"`, "the send page of what was stored")

	r = post(nil, map[string]string{"d.txt": "delta"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = post([][2]string{{"to", "bob@example.com"}}, nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "Choose the files to send")
	assert.Len(t, bob.inbox(), 2)
}

// A link made on the file's page with a limit and a password: the page
// says so and lists both; a browser opening it gets a password field,
// a wrong password says so in the page, the right one answers the file;
// used up, the page says the link does not work.
func TestWeb_LinkWithPasswordAndLimit(t *testing.T) {
	ts := startServer(t)
	owner := ts.login(ts.addUser("owner@example.com", password), password)
	owner.mustPut("plan.txt", []byte("the plan"))
	b := ts.browser()
	b.signIn("owner@example.com", password)
	page := string(b.post("/link/plan.txt", url.Values{"days": {"1"}, "max_downloads": {"1"}, "password": {"s3cret pass"}}).requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "and its password can download the file for 1 day, 1 time at most")
	assert.Contains(t, page, ">0 of 1<")
	m := regexp.MustCompile(`value="(http[^"]+/d/[^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m)
	path := strings.TrimPrefix(m[1], ts.Root)
	b.post("/link/plan.txt", url.Values{"days": {"1"}, "max_downloads": {"lots"}}).requireStatus(http.StatusBadRequest)

	visitor := ts.browser()
	r := visitor.get(path)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), `type="password" name="password"`)
	assert.NotContains(t, string(r.Body), "plan.txt", "nothing of the file before the password")
	r = visitor.post(path, url.Values{"password": {"guess"}})
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "not the link's password")
	r = visitor.post(path, url.Values{"password": {"s3cret pass"}}).requireStatus(http.StatusOK)
	assert.Equal(t, "the plan", string(r.Body))
	assert.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	r = visitor.post(path, url.Values{"password": {"s3cret pass"}})
	assert.Equal(t, http.StatusGone, r.Status)
	assert.Contains(t, string(r.Body), "used up")
}

// What a person meets around the pages: a favicon where browsers look for
// one; a 404 that keeps a signed-in person's header; the header marking
// the section; a full name refused in words, with the field's limit.
func TestWeb_FaviconNotFoundSectionAndFullName(t *testing.T) {
	ts := startServer(t)
	ts.addUser("pat@example.com", password)
	b := ts.browser()
	icon := b.get("/favicon.ico").requireStatus(http.StatusOK)
	assert.Equal(t, "image/svg+xml", icon.Header.Get("Content-Type"))
	assert.Contains(t, string(icon.Body), "<svg")

	assert.NotContains(t, string(b.get("/no/such/page").Body), `aria-label="Account"`, "no header before signing in")
	b.signIn("pat@example.com", password)
	r := b.get("/no/such/page")
	r.requireStatus(http.StatusNotFound)
	assert.Contains(t, string(r.Body), `<nav aria-label="Account">`)
	assert.Contains(t, string(r.Body), "There is no page here.")

	inbox := string(b.get("/inbox").requireStatus(http.StatusOK).Body)
	assert.Contains(t, inbox, `<a href="/inbox" aria-current="page">`)
	assert.NotContains(t, inbox, `<a href="/files/" aria-current="page">`)

	settings := string(b.get("/settings").Body)
	assert.Contains(t, settings, `autocomplete="name" maxlength="200"`)
	r = b.post("/settings/profile", url.Values{"fullname": {strings.Repeat("é", 201)}})
	assert.Contains(t, string(r.Body), "The full name is too long: at most 200 characters.")
}

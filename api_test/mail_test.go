package api_test

import (
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
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

func (c *client) invite(emails ...string) *response {
	c.t.Helper()
	return c.postForm("/invite", url.Values{"email[]": emails})
}

// mailStatus returns the outbox as `ferry mail list` sees it.
func (ts *testServer) mailStatus() []ferry.QueuedMail {
	ts.t.Helper()
	list, err := ts.admin().ListMail()
	require.NoError(ts.t, err)
	return list
}

func TestInvite_SignupWithCode(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens, func(c *app.Config) { c.Auth.Signup = "invite" })
	inviter := ts.namedUser("ines@example.com", "Inès Ñúñez")
	ts.addUser("taken@example.com", password)

	r := inviter.invite("New.Friend@Example.com", "not an email", "TAKEN@example.com")
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"email":"not an email","error":"INVALID_EMAIL"},{"email":"TAKEN@example.com","error":"EMAIL_ALREADY_EXIST"}]`, string(r.Body))

	mails := peer.WaitMails(1)
	require.Len(t, mails, 1)
	assert.Equal(t, []string{"new.friend@example.com"}, mails[0].To)
	assert.Equal(t, "ferry@ferry.test", mails[0].From)
	m := mails[0].Parse(t)
	assert.Equal(t, "Inès Ñúñez invites you to ferry", m.Subject(t))
	assert.Equal(t, "<new.friend@example.com>", m.Header.Get("To"))
	assert.Equal(t, "<ines@example.com>", m.Header.Get("Reply-To"))
	assert.Regexp(t, `^<[0-9a-f]{32}@ferry\.test>$`, m.Header.Get("Message-ID"))
	_, err := m.Header.Date()
	assert.NoError(t, err)
	assert.Contains(t, m.Body, "Inès Ñúñez (ines@example.com) invites you")
	assert.Contains(t, m.Body, ts.Root+"/signup?invite=")
	code := m.SignupCode(t)
	assert.Contains(t, m.HTML, "Inès Ñúñez (ines@example.com) invites you", "the HTML part says it too")
	assert.Equal(t, []string{ts.Root + "/signup?invite=" + code}, m.Links())

	// The link's page, then the signup with the code: once only.
	page := (&client{t: t, http: http.DefaultClient}).request(http.MethodGet, ts.Root+"/signup?invite="+code, nil, "")
	page.requireStatus(http.StatusOK)
	assert.Contains(t, string(page.Body), `value="`+code+`"`)
	register := func(email, code string) *response {
		return ts.client().postForm("/auth/register", url.Values{"email": {email}, "password": {password}, "fullname": {"New Friend"}, "invite": {code}})
	}
	register("new.friend@example.com", "forged-"+code).requireError(403, ferry.ENOPERMISSION)
	register("new.friend@example.com", "").requireError(403, ferry.ENOPERMISSION)
	register("new.friend@example.com", code).requireStatus(http.StatusOK)
	register("someone.else@example.com", code).requireError(403, ferry.ENOPERMISSION)
	ts.login("new.friend@example.com", password)

	// A bad signup does not use up a code; an expired one is refused.
	inviter.invite("late@example.com").requireStatus(http.StatusOK)
	late := peer.WaitMails(2)[1].Parse(t).SignupCode(t)
	ts.client().postForm("/auth/register", url.Values{"email": {"late@example.com"}, "password": {"short"}, "invite": {late}}).
		requireError(400, ferry.EINVALIDPASSWORD)
	ts.Clock.Advance(7*24*time.Hour + time.Second)
	register("late@example.com", late).requireError(403, ferry.ENOPERMISSION)
}

func TestInvite_DailyLimit(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Invite.PerDay = 3 })
	c := ts.newUser("lim@example.com")
	c.invite("a@example.com", "b@example.com").requireStatus(http.StatusOK)
	r := c.invite("c@example.com", "d@example.com")
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	// The clock stands at 12:00 UTC: twelve hours to midnight.
	assert.Equal(t, strconv.Itoa(12*3600), r.Header.Get("Retry-After"))
	assert.Len(t, ts.mailStatus(), 2, "nothing of a refused call is sent")
	c.invite("c@example.com", "bad address").requireStatus(http.StatusAccepted) // invalid ones do not count
	c.invite("d@example.com").requireError(429, ferry.ETOOMANYREQUESTS)
	ts.Clock.Advance(12 * time.Hour)
	c.invite("d@example.com").requireStatus(http.StatusOK)
	c.postForm("/invite", nil).requireError(400, ferry.EBADREQUEST)
}

func TestMail_TemporaryFailureIsRetried(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	peer.Answer(ferrytest.TempFail, ferrytest.TempFail)
	ts := startServer(t, peer.Configure)
	ts.newUser("tmp@example.com").invite("once@example.com").requireStatus(http.StatusOK)
	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"once@example.com"}, mails[0].To)
	require.Eventually(t, func() bool {
		q := ts.mailStatus()
		return len(q) == 1 && q[0].Status == ferry.MailSent
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // past several retry intervals
	assert.Len(t, peer.Received(), 1, "delivered once")
	assert.Equal(t, 3, peer.DataAttempts())
	q := ts.mailStatus()[0]
	assert.Equal(t, 3, q.Attempts)
	assert.Empty(t, q.LastError)
}

func TestMail_PermanentFailureIsNotRetried(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	peer.Answer(ferrytest.PermFail)
	ts := startServer(t, peer.Configure)
	ts.newUser("perm@example.com").invite("nobox@example.com").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool {
		q := ts.mailStatus()
		return len(q) == 1 && q[0].Status == ferry.MailFailed
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, peer.DataAttempts(), "a 5xx reply is final")
	assert.Empty(t, peer.Received())
	q := ts.mailStatus()[0]
	assert.Equal(t, 1, q.Attempts)
	assert.Contains(t, q.LastError, "550")
}

func TestMail_SMTPDownThenUp(t *testing.T) {
	peer := ferrytest.DownSMTP(t)
	ts := startServer(t, peer.Configure)
	c := ts.newUser("down@example.com")
	want := []string{"one@example.com", "two@example.com", "three@example.com"}
	for _, to := range want {
		c.invite(to).requireStatus(http.StatusOK)
	}
	require.Eventually(t, func() bool {
		for _, q := range ts.mailStatus() {
			if q.Attempts < 2 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "each was tried and failed while SMTP was down")
	for _, q := range ts.mailStatus() {
		assert.Equal(t, ferry.MailQueued, q.Status)
		assert.Contains(t, q.LastError, "connect")
	}

	peer.Up()
	peer.WaitMails(3)
	time.Sleep(300 * time.Millisecond)
	var got []string
	for _, m := range peer.Received() {
		got = append(got, m.To...)
	}
	assert.ElementsMatch(t, want, got, "all arrive, none twice")
}

func TestMail_RetryTimeSurvivesRestart(t *testing.T) {
	peer := ferrytest.DownSMTP(t)
	ts := startServer(t, peer.Configure, func(c *app.Config) {
		c.SMTP.RetryInitial = app.Duration(time.Hour) // nothing more happens before the restart
		c.SMTP.RetryMax = app.Duration(time.Hour)
	})
	ts.newUser("rs@example.com").invite("after@example.com").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool { return ts.mailStatus()[0].Attempts == 1 }, 10*time.Second, 10*time.Millisecond)
	ts.stop()

	peer.Up()
	ts.Cfg.SMTP.RetryInitial = app.Duration(20 * time.Millisecond)
	ts = ts.restart()
	// Its retry is an hour away: a restart does not skip the backoff...
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, peer.Received())
	assert.Equal(t, ferry.MailQueued, ts.mailStatus()[0].Status)
	// ...but new mail goes at once, and the queued one is there, intact.
	ts.login("rs@example.com", password).invite("new@example.com").requireStatus(http.StatusOK)
	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"new@example.com"}, mails[0].To)
	assert.Len(t, ts.mailStatus(), 2)
}

func TestMail_QueuedWithoutHostIsDeliveredAfterRestart(t *testing.T) {
	// Queued in a run with no SMTP host at all, delivered by the next run,
	// which has one.
	ts := startServer(t)
	ts.newUser("nh@example.com").invite("later@example.com").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool {
		return strings.Contains(ts.logs.String(), `mail kept in the outbox: no smtp.host is configured" mail=1 to=later@example.com`)
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, strings.Count(ts.logs.String(), "mail kept in the outbox"), "logged once")
	assert.NotContains(t, ts.logs.String(), "invite=", "the body (with its code) is never logged")
	assert.Equal(t, ferry.MailQueued, ts.mailStatus()[0].Status)

	// `ferry mail list`, through the running server's admin socket.
	config := filepath.Join(t.TempDir(), "ferry.toml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf("data_dir = %q\n", ts.Cfg.DataDir)), 0o600))
	out := ferryCLI(t, config, "", "mail", "list").requireOK(t)
	assert.Regexp(t, `^1\s+queued\s+0\s+\S+ \S+\s+later@example.com\s+User nh@example.com invites you to ferry`, out)

	peer := ferrytest.StartSMTP(t)
	ts.stop()
	peer.Configure(&ts.Cfg)
	ts = ts.restart()
	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"later@example.com"}, mails[0].To)
}

func TestMail_NothingTypedAddsAHeaderOrRecipient(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure)
	c := ts.newUser("mal@example.com")
	// Line breaks are refused where a name is typed...
	c.postForm("/settings/update", url.Values{"fullname": {"Mallory\r\nBcc: victim@example.com"}}).requireError(400, ferry.EBADREQUEST)
	c.invite("to@example.com\r\nBcc: victim@example.com").requireStatus(http.StatusAccepted)
	c.invite("to@example.com, victim@example.com").requireStatus(http.StatusAccepted)
	// ...and what is left of a hostile name reaches the body only.
	c.postForm("/settings/update", url.Values{"fullname": {`"Evil" <boss@example.com>, Bcc: victim@example.com =?utf-8?q?x?=`}}).requireStatus(http.StatusOK)
	c.invite("target@example.com").requireStatus(http.StatusOK)

	mails := peer.WaitMails(1)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, peer.Received(), 1)
	assert.Equal(t, []string{"target@example.com"}, mails[0].To, "one recipient")
	m := mails[0].Parse(t)
	for _, h := range []string{"Bcc", "Cc"} {
		assert.Empty(t, m.Header.Get(h))
	}
	to, err := m.Header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Address: "target@example.com"}}, to)
	replyTo, err := m.Header.AddressList("Reply-To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Address: "mal@example.com"}}, replyTo)
	assert.Equal(t, `"Evil" <boss@example.com>, Bcc: victim@example.com =?utf-8?q?x?= invites you to ferry`, m.Subject(t),
		"the subject says what was typed, encoded, as one header")
	assert.Equal(t, 1, strings.Count(string(mails[0].Data), "\r\nSubject:"))
}

func TestMail_SendNotice(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure)
	sender := ts.namedUser("sam@example.com", "Sam Sender")
	ts.namedUser("rita@example.com", "Rita Receiver")
	sender.mustPut("docs/a.pdf", make([]byte, 1500))
	sender.mustPut("pics/x.jpg", make([]byte, 2500))
	sender.mustSend("rita@example.com", `[{"path":"docs","files":["a.pdf"]},{"path":"pics","files":[],"folder":true}]`)
	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"rita@example.com"}, mails[0].To)
	m := mails[0].Parse(t)
	assert.Equal(t, "Sam Sender sent you 2 items", m.Subject(t))
	assert.Contains(t, m.Body, "docs/a.pdf")
	assert.Contains(t, m.Body, "pics")
	assert.Contains(t, m.Body, "4 KB")
	assert.Contains(t, m.Body, "inbox")
	assert.Contains(t, m.Body, ts.Root+"/inbox\r\n", "the mail leads to the web app's inbox")
	assert.NotContains(t, m.Body, "/api/1/", "no API paths in mail")
	assert.Equal(t, []string{ts.Root + "/inbox"}, m.Links())
	assert.Contains(t, m.HTML, "docs/a.pdf")
	// A refused send queues no mail.
	sender.send("rita@example.com", `[{"path":"docs","files":["nope.pdf"]}]`).requireError(404, ferry.EFILENOTFOUND)
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, peer.Received(), 1)
	assert.Len(t, ts.mailStatus(), 1)
}

// A contact request is a mail too, linking to the contacts page; adding
// again while it is unread sends no second one, nor does adding again
// within a day of the last mail.
func TestMail_ContactRequest(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens)
	ann := ts.namedUser("ann@example.com", "Ann <Admin>")
	ts.namedUser("bob@example.com", "Bob")
	ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}}).requireStatus(http.StatusOK)
	mails := peer.WaitMails(1)
	assert.Equal(t, []string{"bob@example.com"}, mails[0].To)
	m := mails[0].Parse(t)
	assert.Equal(t, "Ann <Admin> added you as a contact", m.Subject(t))
	assert.Contains(t, m.Body, "Ann <Admin> (ann@example.com) added you")
	assert.Contains(t, m.HTML, "Ann &lt;Admin&gt; (ann@example.com) added you")
	assert.Equal(t, []string{ts.Root + "/contacts"}, m.Links())
	assert.NotContains(t, m.Body, "/api/1/")

	ann.postForm("/contacts/remove", url.Values{"email": {"bob@example.com"}}).requireStatus(http.StatusOK)
	ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}}).requireStatus(http.StatusOK)
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, peer.Received(), 1, "the first request is still unread")

	// Read, then removed and added again: a new request, but no second
	// mail within a day; a day later, a mail again.
	bob := ts.login("bob@example.com", password)
	n := bob.notifications()
	require.Len(t, n, 1)
	bob.postForm("/notifications/update", url.Values{"id[]": {fmt.Sprint(n[0].ID)}}).requireStatus(http.StatusOK)
	again := func() {
		ann.postForm("/contacts/remove", url.Values{"email": {"bob@example.com"}}).requireStatus(http.StatusOK)
		ann.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}}).requireStatus(http.StatusOK)
	}
	again()
	assert.Len(t, bob.notifications(), 2, "the request is there")
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, peer.Received(), 1, "no second mail the same day")
	n = bob.notifications()
	bob.postForm("/notifications/update", url.Values{"id[]": {fmt.Sprint(n[1].ID)}}).requireStatus(http.StatusOK)
	ts.Clock.Advance(25 * time.Hour)
	again()
	peer.WaitMails(2)
}

func TestMail_TLSAndAuth(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			srvTLS, clientTLS := ferrytest.SelfSigned(t)
			peer := ferrytest.StartSMTPWith(t, &ferrytest.SMTPPeer{TLSMode: mode, TLS: srvTLS, User: "ferry-bot", Pass: "s3cret"})
			ts := startServerOpts(t, app.Options{SMTPTLS: clientTLS}, peer.Configure, func(c *app.Config) {
				c.SMTP.Username, c.SMTP.Password = "ferry-bot", "s3cret"
			})
			ts.newUser("tls@example.com").invite("secure@example.com").requireStatus(http.StatusOK)
			assert.Equal(t, []string{"secure@example.com"}, peer.WaitMails(1)[0].To)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		peer := ferrytest.StartSMTPWith(t, &ferrytest.SMTPPeer{User: "ferry-bot", Pass: "s3cret"})
		ts := startServer(t, peer.Configure, func(c *app.Config) { c.SMTP.Username, c.SMTP.Password = "ferry-bot", "wrong" })
		ts.newUser("auth@example.com").invite("x@example.com").requireStatus(http.StatusOK)
		require.Eventually(t, func() bool { return ts.mailStatus()[0].Status == ferry.MailFailed }, 10*time.Second, 10*time.Millisecond)
		assert.Contains(t, ts.mailStatus()[0].LastError, "535")
		assert.Empty(t, peer.Received())
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		peer := ferrytest.StartSMTP(t)
		ts := startServer(t, peer.Configure, func(c *app.Config) { c.SMTP.TLS = "starttls" })
		ts.newUser("plain@example.com").invite("y@example.com").requireStatus(http.StatusOK)
		require.Eventually(t, func() bool { return ts.mailStatus()[0].Attempts >= 1 }, 10*time.Second, 10*time.Millisecond)
		q := ts.mailStatus()[0]
		assert.Equal(t, ferry.MailQueued, q.Status, "kept and retried, never sent in the clear")
		assert.Contains(t, q.LastError, "starttls")
		assert.Empty(t, peer.Received())
	})
}

// An SMTP peer that accepts the connection and never answers holds a
// delivery for smtp.timeout, not for ever: the attempt fails and is
// retried.
func TestMail_SilentPeerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // silent until the test ends
		}
	}()
	peer := &ferrytest.SMTPPeer{Addr: ln.Addr().String()}
	ts := startServer(t, peer.Configure, func(c *app.Config) {
		c.SMTP.Timeout = app.Duration(time.Second)
		c.SMTP.RetryInitial = app.Duration(time.Hour)
		c.SMTP.RetryMax = app.Duration(time.Hour)
	})
	start := time.Now()
	ts.newUser("silent@example.com").invite("x@example.com").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool { return ts.mailStatus()[0].Attempts == 1 }, 15*time.Second, 20*time.Millisecond)
	assert.Less(t, time.Since(start), 10*time.Second)
	q := ts.mailStatus()[0]
	assert.Equal(t, ferry.MailQueued, q.Status, "a timeout is temporary")
	assert.Contains(t, q.LastError, "timeout")
}

// Sent and failed mail leaves the outbox smtp.keep_sent after it was
// queued; queued mail stays however old, and younger mail stays.
func TestMail_OldMailIsDeleted(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	replies := []error{nil, ferrytest.PermFail}
	for range 20 {
		replies = append(replies, ferrytest.TempFail)
	}
	peer.Answer(replies...)
	ts := startServer(t, peer.Configure, func(c *app.Config) {
		c.SMTP.RetryInitial, c.SMTP.RetryMax = app.Duration(time.Hour), app.Duration(time.Hour)
		c.SMTP.MaxAttempts = 1000
		c.SMTP.KeepSent = app.Duration(24 * time.Hour)
	})
	ts.newUser("keeper@example.com").invite("a@example.com", "b@example.com", "c@example.com").requireStatus(http.StatusOK)
	statuses := func() []string {
		var s []string
		for _, q := range ts.mailStatus() {
			s = append(s, q.To+" "+q.Status)
		}
		return s
	}
	require.Eventually(t, func() bool {
		s := statuses()
		return len(s) == 3 && s[0] == "a@example.com sent" && s[1] == "b@example.com failed" && ts.mailStatus()[2].Attempts == 1
	}, 10*time.Second, 10*time.Millisecond, "%v", statuses())

	ts.Clock.Advance(23 * time.Hour)
	time.Sleep(300 * time.Millisecond) // sweeps run every 100 ms
	assert.Len(t, statuses(), 3, "nothing is a day old yet")

	ts.Clock.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return len(ts.mailStatus()) == 1 }, 10*time.Second, 10*time.Millisecond, "%v", statuses())
	assert.Equal(t, "c@example.com queued", statuses()[0], "queued mail stays")

	ts.login("keeper@example.com", password).invite("d@example.com").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool { return len(ts.mailStatus()) == 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, ts.mailStatus(), 2, "young mail stays")
}

// The mail that tells a sender of a decision is queued in the decision's
// own transaction, so that neither is ever without the other: the
// inbox/update that accepts one send commits once, and its answer comes
// with the mail in the outbox. (No smtp.host: the mail stays queued, and
// nothing but the requests writes.)
func TestMail_DecisionCommitsWithItsMail(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Metrics.Token = "scrape-secret" })
	alice := ts.newUser("alice@example.com")
	bob := ts.newUser("bob@example.com")
	alice.mustPut("a.txt", []byte("for Bob"))
	ids := alice.mustSend("bob@example.com", `[{"path":"","files":["a.txt"]}]`)
	scraper := &client{t: t, base: ts.Root, http: http.DefaultClient}
	commits := func() int {
		m := regexp.MustCompile(`\nferry_store_commit_calls_count (\d+)\n`).FindStringSubmatch(string(scraper.scrape(ts.Root + "/metrics").Body))
		require.NotNil(t, m, "no commit count in /metrics")
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		return n
	}
	queued := len(ts.mailStatus())
	before := commits()
	bob.decide(accept(ids[0])).requireStatus(http.StatusOK)
	assert.Equal(t, before+1, commits(), "the decision and its mail, one transaction")
	mails := ts.mailStatus()
	require.Len(t, mails, queued+1)
	assert.Equal(t, "bob@example.com accepted 1 item you sent", mails[len(mails)-1].Subject)
	assert.Equal(t, "alice@example.com", mails[len(mails)-1].To)
}

// Issue 17, "hearing back": one mail per receiver's inbox/update that
// decided any of the sender's sends, listing each; one per expiry sweep;
// none with mail_on_decision off, and none for accept_all.
func TestMail_DecisionNotice(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens)
	alice := ts.namedUser("alice@example.com", "Alice")
	bob := ts.namedUser("bob@example.com", "Bob")
	carol := ts.namedUser("carol@example.com", "Carol")
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		alice.mustPut(name, []byte(name))
	}
	ids := alice.mustSend("bob@example.com", `[{"path":"","files":["a.txt","b.txt","c.txt"]}]`)
	peer.WaitMails(1) // Bob's "sent you"
	bob.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"},{"id":%d,"accept":"YES"},{"id":%d}]`, ids[0], ids[1], ids[2])).requireStatus(http.StatusOK)
	mails := peer.WaitMails(2)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, peer.Received(), 2, "one mail for the whole decision")
	assert.Equal(t, []string{"alice@example.com"}, mails[1].To)
	m := mails[1].Parse(t)
	assert.Equal(t, "bob@example.com decided on 3 items you sent", m.Subject(t))
	assert.Contains(t, m.Body, "a.txt (5 B), to bob@example.com: accepted")
	assert.Contains(t, m.Body, "c.txt (5 B), to bob@example.com: declined")
	assert.Contains(t, m.Links(), ts.Root+"/outbox")
	assert.Equal(t, []string{"accepted", "accepted", "declined"}, alice.outboxStatuses(), "the outbox says the same at once")

	// Expiry: one mail for what one sweep ended.
	alice.mustSend("carol@example.com", `[{"path":"","files":["a.txt","b.txt"]}]`)
	peer.WaitMails(3) // Carol's "sent you"
	ts.Clock.Advance(30 * 24 * time.Hour)
	mails = peer.WaitMails(4)
	m = mails[3].Parse(t)
	assert.Equal(t, []string{"alice@example.com"}, mails[3].To)
	assert.Equal(t, "2 items you sent expired before they were taken", m.Subject(t))
	assert.Contains(t, m.Body, "to carol@example.com: expired")

	// Turned off: no mail; accept_all: no mail either.
	var s struct {
		MailOnDecision bool `json:"mail_on_decision"`
	}
	alice.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.True(t, s.MailOnDecision)
	alice.postForm("/settings/update", url.Values{"mail_on_decision": {"0"}}).requireStatus(http.StatusOK)
	alice.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.False(t, s.MailOnDecision)
	ids = alice.mustSend("carol@example.com", `[{"path":"","files":["c.txt"]}]`)
	peer.WaitMails(5)
	carol.decide(fmt.Sprintf(`[{"id":%d}]`, ids[0])).requireStatus(http.StatusOK)
	alice.postForm("/settings/update", url.Values{"mail_on_decision": {"1"}}).requireStatus(http.StatusOK)
	bob.postForm("/settings/update", url.Values{"accept_all": {"1"}}).requireStatus(http.StatusOK)
	alice.mustSend("bob@example.com", `[{"path":"","files":["c.txt"]}]`)
	peer.WaitMails(6)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, peer.Received(), 6, "no decision mail when turned off, nor for accept_all")
}

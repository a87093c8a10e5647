package browser_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// Alice sends from the New send page; each kind of mail ferry sends then
// leads its reader, in a browser of their own, to the page where they act,
// and the action works there: Bob's "sent you" mail to the inbox (through
// the sign-in page), Carol's contact request to the contacts page, and
// Dan's invitation, made from the send form, to the signup form with its
// code filled in; once Dan has an account, Alice's send goes.
func TestBrowser_NewSendAndMails(t *testing.T) {
	t.Parallel()
	peer := ferrytest.StartSMTP(t)
	f := startFerry(t, peer.Configure, func(c *app.Config) { c.Auth.Signup = "invite" })
	f.addUser("alice@example.com", "alice password", 0)
	f.addUser("bob@example.com", "bob password", 0)
	f.addUser("carol@example.com", "carol password", 0)
	alice, _ := tab(t)
	signInAs(t, alice, f, "alice@example.com", "alice password", false)

	// New send: the files upload as they are chosen, then go to Bob.
	src := t.TempDir()
	a, b := writeFile(t, src, "a.txt", 3000), writeFile(t, src, "b.txt", 200)
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS(`header a[href="/sends/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-send")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{a, b})))
	waitDone(t, alice, 2)
	require.NoError(t, chromedp.Do(alice, chromedp.SendKeys(chromedp.CSS("#to"), "bob@example.com")))
	screenshot(t, alice, "new-send")
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS("#send-button")), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	assert.Contains(t, text(t, alice, "main"), "Sent to bob@example.com: 2 items are in their inbox, to accept or decline.")

	// Bob's mail leads to his inbox, through the sign-in page.
	mail := peer.WaitMails(1)[0].Parse(t)
	require.Equal(t, []string{f.Root + "/inbox"}, mail.Links())
	bob, _ := tab(t)
	require.NoError(t, chromedp.Do(bob, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#email"), "bob@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "bob password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("table.inbox"))))
	assert.Equal(t, "/inbox", path(t, bob))
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`form[action="/inbox"] button[value="1"]`)), chromedp.WaitVisible(chromedp.CSS("table.decided"))))
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`table.decided a[href="/item/a.txt"]`)), chromedp.WaitVisible(chromedp.CSS(".details"))))
	assert.Contains(t, text(t, bob, ".details"), sha(t, a), "Bob has Alice's file, byte for byte")

	// Alice adds Carol; Carol's mail leads to her contacts page.
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/contacts"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "carol@example.com"), chromedp.Submit(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("table.contacts"))))
	mail = mailTo(t, peer, "carol@example.com", "/contacts")
	require.Equal(t, []string{f.Root + "/contacts"}, mail.Links())
	carol, _ := tab(t)
	signInAs(t, carol, f, "carol@example.com", "carol password", false)
	require.NoError(t, chromedp.Do(carol, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("#requests")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Add alice@example.com back"]`)), chromedp.WaitVisible(chromedp.CSS("table.contacts"))))
	assert.Contains(t, text(t, carol, "table.contacts"), "alice@example.com")
	// Adding back completed the pair: Alice is told by mail, and has no
	// request of her own to dismiss.
	mailTo(t, peer, "alice@example.com", "added you back")
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/contacts"), chromedp.WaitVisible(chromedp.CSS("table.contacts"))))
	badges, err := chromedp.Run(alice, chromedp.Evaluate[int](`document.querySelectorAll('header a[href="/contacts"] .badge').length`))
	require.NoError(t, err)
	assert.Zero(t, badges, "no contact request badge for Alice")
	assert.NotContains(t, text(t, alice, "main"), "Add carol@example.com back")

	// A send to Dan, who has no account: the send form invites him and
	// sends, in one step.
	c := writeFile(t, src, "c.txt", 100)
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/sends/new"), chromedp.WaitVisible(chromedp.CSS("#new-send")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{c})))
	waitDone(t, alice, 1)
	require.NoError(t, chromedp.Do(alice, chromedp.SendKeys(chromedp.CSS("#to"), "dan@example.com"), chromedp.Click(chromedp.CSS("#send-button")),
		chromedp.WaitVisible(chromedp.CSS("#invite"))))
	assert.Contains(t, text(t, alice, ".error"), "dan@example.com")
	screenshot(t, alice, "send-invite")
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS(`#invite input[name=invite] ~ button`)), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	assert.Regexp(t, `Invited dan@example\.com: 1 item waits for their account until \d+ \w+ \d{4}\. They have a mail with a link to create it`, text(t, alice, "main"))
	assert.Contains(t, text(t, alice, "table.outbox"), "invited")

	mail = mailTo(t, peer, "dan@example.com", "/signup")
	assert.Contains(t, mail.Body, "c.txt", "the invitation names what was sent")
	require.Len(t, mail.Links(), 1)
	link, err := url.Parse(mail.Links()[0])
	require.NoError(t, err)
	assert.Equal(t, "/signup", link.Path)
	dan, _ := tab(t)
	require.NoError(t, chromedp.Do(dan, chromedp.Navigate(link.String()), chromedp.WaitVisible(chromedp.CSS("#invite"))))
	code, err := chromedp.Run(dan, chromedp.Evaluate[string](`document.getElementById("invite").value`))
	require.NoError(t, err)
	assert.Equal(t, link.Query().Get("invite"), code, "the code is filled in")
	filled, err := chromedp.Run(dan, chromedp.Evaluate[string](`document.getElementById("email").value`))
	require.NoError(t, err)
	assert.Equal(t, "dan@example.com", filled, "and the invited email")
	require.NoError(t, chromedp.Do(dan, chromedp.SendKeys(chromedp.CSS("#password"), "dan password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#upload-form"))))

	// The send waits in Dan's inbox; he accepts; Alice sees it and hears.
	assert.Equal(t, "1", text(t, dan, `header a[href="/inbox"] .badge`))
	require.NoError(t, chromedp.Do(dan, chromedp.Navigate(f.Root+"/inbox"), chromedp.WaitVisible(chromedp.CSS("table.inbox")),
		chromedp.Click(chromedp.CSS(`button[aria-label="Accept c.txt"]`)), chromedp.WaitVisible(chromedp.CSS("table.decided"))))
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	assert.Contains(t, text(t, alice, "table.outbox tbody tr:first-child"), "accepted")
	heard := mailTo(t, peer, "alice@example.com", "dan@example.com")
	assert.Contains(t, heard.Body, "c.txt (100 B), to dan@example.com: accepted")
}

// mailTo waits for the peer's first mail to email whose text holds
// holding, and returns it.
func mailTo(t *testing.T, peer *ferrytest.SMTPPeer, email, holding string) ferrytest.Parsed {
	t.Helper()
	for n := 1; ; n++ {
		for _, m := range peer.WaitMails(n) {
			if len(m.To) == 1 && m.To[0] == email {
				if p := m.Parse(t); strings.Contains(p.Body, holding) {
					return p
				}
			}
		}
	}
}

// path is the path of the tab's page.
func path(t *testing.T, ctx context.Context) string {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	require.NoError(t, err)
	return p
}

// A forgotten password, from the login page's link to the mail's, then a
// new password that signs in.
func TestBrowser_PasswordReset(t *testing.T) {
	t.Parallel()
	peer := ferrytest.StartSMTP(t)
	f := startFerry(t, peer.Configure)
	f.addUser("rosa@example.com", "old password", 0)
	rosa, _ := tab(t)
	require.NoError(t, chromedp.Do(rosa, chromedp.Navigate(f.Root+"/login"), chromedp.WaitVisible(chromedp.CSS("a.forgot")),
		chromedp.Click(chromedp.CSS("a.forgot")), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "rosa@example.com")))
	screenshot(t, rosa, "forgot")
	require.NoError(t, chromedp.Do(rosa, chromedp.Submit(chromedp.CSS("#email")), chromedp.WaitVisible(chromedp.CSS("p.ok"))))
	assert.Contains(t, text(t, rosa, "p.ok"), "on its way")

	mail := mailTo(t, peer, "rosa@example.com", "/reset")
	require.Len(t, mail.Links(), 1)
	require.NoError(t, chromedp.Do(rosa, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#password"), "new password")))
	screenshot(t, rosa, "reset")
	require.NoError(t, chromedp.Do(rosa, chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#upload-form"))))

	// Signed out, the old password no longer works and the new one does.
	require.NoError(t, chromedp.Do(rosa, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "rosa@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "old password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(".error"))))
	signInAs(t, rosa, f, "rosa@example.com", "new password", false)
}

// With signup open, Alice's "Invite and send" says what happened (an
// invitation, waiting until a date), and the invitation's link leads Dan
// to a signup page that keeps the code, fills in his email, and says what
// waits; he signs up under another address and still receives it, and
// Alice's outbox names that address.
func TestBrowser_InvitationWithOpenSignup(t *testing.T) {
	t.Parallel()
	peer := ferrytest.StartSMTP(t)
	f := startFerry(t, peer.Configure, func(c *app.Config) { c.Auth.Signup = "open" })
	f.addUser("alice@example.com", "alice password", 0)
	alice, _ := tab(t)
	signInAs(t, alice, f, "alice@example.com", "alice password", false)
	src := t.TempDir()
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/sends/new"), chromedp.WaitVisible(chromedp.CSS("#new-send")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{writeFile(t, src, "c.txt", 2000), writeFile(t, src, "d.txt", 3200)})))
	waitDone(t, alice, 2)
	require.NoError(t, chromedp.Do(alice, chromedp.SendKeys(chromedp.CSS("#to"), "dan@example.com"), chromedp.Click(chromedp.CSS("#send-button")),
		chromedp.WaitVisible(chromedp.CSS("#invite")),
		chromedp.Click(chromedp.CSS(`#invite input[name=invite] ~ button`)), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	status := text(t, alice, `[role="status"]`)
	assert.Regexp(t, `^Invited dan@example\.com: 2 items wait for their account until \d+ \w+ \d{4}\.`, status)
	assert.NotContains(t, status, "Sent to", "not said to be in an inbox it has not reached")
	assert.NotContains(t, text(t, alice, "table.outbox"), "deleted account", "an invitee is not a deleted account")
	screenshot(t, alice, "outbox-invited")

	mail := mailTo(t, peer, "dan@example.com", "/signup")
	dan, _ := tab(t)
	require.NoError(t, chromedp.Do(dan, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("#email"))))
	card := text(t, dan, ".invitation")
	assert.Contains(t, card, "User alice@example.com (alice@example.com) invited you to ferry")
	assert.Regexp(t, `sent you 2 items, 5\.2 KB: they wait for your account until \d+ \w+ \d{4}`, card)
	filled, err := chromedp.Run(dan, chromedp.Evaluate[string](`document.getElementById("email").value`))
	require.NoError(t, err)
	assert.Equal(t, "dan@example.com", filled)
	screenshot(t, dan, "signup-invited")
	_, err = chromedp.Run(dan, chromedp.Evaluate[bool](`document.getElementById("email").value = "", true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(dan, chromedp.SendKeys(chromedp.CSS("#email"), "daniel@elsewhere.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "dan password"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#upload-form"))))
	assert.Equal(t, "2", text(t, dan, `header a[href="/inbox"] .badge`), "the sends reached the account made with the link")

	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	assert.Contains(t, text(t, alice, "table.outbox"), "daniel@elsewhere.example")
	assert.NotContains(t, text(t, alice, "table.outbox"), "invited")

	// The same link again: the page says it is used, and signup still works.
	again, _ := tab(t)
	require.NoError(t, chromedp.Do(again, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("#email"))))
	assert.Contains(t, text(t, again, "main"), "This invitation link has been used or has expired")
}

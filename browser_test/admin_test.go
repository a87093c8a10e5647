package browser_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// The admin console in Chromium: the overview and people (search,
// paging), one person's page (limits, disable, administrator, reset
// mail), the confirmation before a delete, packages, mail and the audit
// log, with screenshots at both widths.
func TestBrowser_AdminConsole(t *testing.T) {
	f := startFerry(t)
	admin, closer, err := app.OpenAdmin(f.Cfg)
	require.NoError(t, err)
	_, err = admin.AddUser(app.AddUserRequest{Email: email, Password: password, Name: "Pat Admin", Admin: true})
	require.NoError(t, err)
	for i := range 55 {
		_, err = admin.AddUser(app.AddUserRequest{Email: fmt.Sprintf("person%02d@example.com", i), Password: password, Name: fmt.Sprintf("Person %02d", i)})
		require.NoError(t, err)
	}
	closer.Close()
	ctx, _ := tab(t)
	signIn(t, ctx, f, false)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/admin"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.people")),
	))
	assert.Contains(t, text(t, ctx, "dl.stats"), "56, 1 administrator")
	assert.Contains(t, text(t, ctx, "#people"), "Page 1 of 2")
	screenshot(t, ctx, "admin")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav.pager a`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/people/person54@example.com"]`)),
		chromedp.SendKeys(chromedp.CSS("#q"), "Person 07"),
		chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/people/person07@example.com"]`)),
	))
	assert.Contains(t, text(t, ctx, "#people"), "1 account match")

	// One person's page: limits, disable, administrator, a reset mail.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/admin/people/person07@example.com"]`)),
		chromedp.WaitVisible(chromedp.CSS("#limits")),
		chromedp.SetValue(chromedp.CSS("#storage"), "20GB"),
		chromedp.Submit(chromedp.CSS("#storage")),
		chromedp.WaitVisible(chromedp.CSS("p.ok")),
	))
	assert.Contains(t, text(t, ctx, "main"), "of 20 GB")
	for _, c := range []struct{ button, said string }{
		{"Disable the account", "Disabled: every session"},
		{"Make administrator", "Now an administrator."},
		{"Mail a password reset link", "A mail with a password reset link"},
	} {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.Search(`//button[normalize-space()="`+c.button+`"]`)),
			chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "ok") and contains(., "`+c.said+`")]`)),
		))
	}
	assert.Contains(t, text(t, ctx, "p.ok"), "A mail with a password reset link is on its way")
	assert.Contains(t, text(t, ctx, "main"), "disabled")
	assert.Contains(t, text(t, ctx, "main"), "administrator")
	assert.Equal(t, 3, strings.Count(text(t, ctx, "main"), "Changed by an administrator"), "limits, disable, administrator")
	screenshot(t, ctx, "admin-person")

	// Delete asks first, and wants the email typed.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/admin/people/person07@example.com/delete"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
	))
	screenshot(t, ctx, "admin-delete")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#confirm"), "person07@example.com"),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("p.ok")),
	))
	assert.Contains(t, text(t, ctx, "p.ok"), "The account is deleted")
	assert.Contains(t, text(t, ctx, "dl.stats"), "55,")

	// A reset mail to someone else, for the mail page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/admin/people/person08@example.com"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Mail a password reset link"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.ok")),
	))
	for _, page := range []struct{ link, sel, shot string }{
		{"/admin/packages", "table.packages", "admin-packages"},
		{"/admin/mail", "table.mail", "admin-mail"},
		{"/admin/audit", "table.audit", "admin-audit"},
	} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.subnav a[href="`+page.link+`"]`)), chromedp.WaitVisible(chromedp.CSS(page.sel))))
		screenshot(t, ctx, page.shot)
	}
	assert.Contains(t, text(t, ctx, "table.audit"), "Account deleted")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.subnav a[href="/admin/mail"]`)), chromedp.WaitVisible(chromedp.CSS("table.mail")),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Send now"]`)), chromedp.WaitVisible(chromedp.CSS("p.ok"))))
	assert.Contains(t, text(t, ctx, "p.ok"), "The mail goes out again now.")
}

// The account's own activity under Settings.
func TestBrowser_Activity(t *testing.T) {
	f, ctx := signedIn(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/settings"),
		chromedp.Click(chromedp.CSS(`a[href="/settings/activity"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.audit")),
	))
	assert.Contains(t, text(t, ctx, "table.audit"), "Signed in")
	assert.Contains(t, text(t, ctx, "table.audit"), "Account created")
	screenshot(t, ctx, "activity")
}

// File requests from the folder view: the form, the link shown once, the
// list, withdrawing.
func TestBrowser_FileRequests(t *testing.T) {
	f, ctx := signedIn(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Request files into this folder"]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-request")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Wedding photos"),
		chromedp.SendKeys(chromedp.CSS("#message"), "Anything you took, please."),
		chromedp.Submit(chromedp.CSS("#title")),
		chromedp.WaitVisible(chromedp.CSS("#request-url")),
	))
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#request-url")))
	require.NoError(t, err)
	assert.Contains(t, link, f.Root+"/r/")
	assert.Contains(t, text(t, ctx, "table.requests"), "Requests/Wedding photos")
	screenshot(t, ctx, "requests")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Withdraw"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "The request is withdrawn")]`)),
	))
	assert.Contains(t, text(t, ctx, "main"), "You have no file requests.")
}

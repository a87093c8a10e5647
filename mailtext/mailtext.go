// Package mailtext writes ferry's mails: invitations, send notices,
// contact requests, password resets and what became of a sender's sends.
// The API, the web app and the store (the decision mails it queues in the
// deciding transaction) all take their texts from here.
package mailtext

import (
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/quota"
)

// Texts makes the mails of one ferry. Names people typed go into the
// subject and the body only; the mailer encodes the subject.
type Texts struct {
	PublicURL string
	// Signup is the signup mode (auth.signup): what an invitation says.
	Signup string
	// InviteExpireIn is how long an invitation's code works.
	InviteExpireIn time.Duration
	// ResetLife is how long a password reset link works.
	ResetLife time.Duration
}

// Invite is the invitation from inviter to email. With invite-only
// signup it carries the signup link with its code.
func (t Texts) Invite(inviter *ferry.User, email, code string) ferry.Mail {
	name := displayName(inviter)
	var how, link string
	switch t.Signup {
	case "invite":
		link = t.PublicURL + "/signup?invite=" + code
		how = fmt.Sprintf("Create your account with this link (it works once, for %s):\n\n  %s\n",
			words.Duration(t.InviteExpireIn), link)
	case "open":
		link = t.PublicURL + "/signup"
		how = fmt.Sprintf("Create your account here:\n\n  %s\n", link)
	default:
		how = fmt.Sprintf("Ask %s or your ferry administrator to create your account on %s.\n", name, t.PublicURL)
	}
	return ferry.Mail{
		To:      email,
		ReplyTo: inviter.Email,
		Subject: fmt.Sprintf("%s invites you to ferry", name),
		Body: fmt.Sprintf("Hello,\n\n%s (%s) invites you to ferry, where you can send each other files and folders.\n\n%s\n-- \nferry at %s\n",
			name, inviter.Email, how, t.PublicURL),
		Links: links(link),
	}
}

// SendNotice tells the receiver of a send what waits for them.
func (t Texts) SendNotice(sender, receiver *ferry.User, destinations []string, total int64) ferry.Mail {
	name := displayName(sender)
	inbox, files := t.PublicURL+"/inbox", t.PublicURL+"/files/"
	what, linked := "Accept or decline them in your inbox:\n\n  "+inbox, links(inbox)
	if receiver.AcceptAll {
		what = "You accept everything sent to you, so they are in your folder already if your quotas allowed:\n\n  " +
			files + "\n\nAnything that did not fit waits in your inbox:\n\n  " + inbox
		linked = links(files, inbox)
	}
	return ferry.Mail{
		To:      receiver.Email,
		ReplyTo: sender.Email,
		Subject: fmt.Sprintf("%s sent you %s", name, words.Count(len(destinations), "item")),
		Body: fmt.Sprintf("Hello,\n\n%s (%s) sent you %s (%s):\n\n%s\n%s\n\n-- \nferry at %s\n",
			name, sender.Email, words.Count(len(destinations), "item"), quota.FormatSize(total), itemList(destinations), what, t.PublicURL),
		Links: linked,
	}
}

// DeliveryNotice tells owner that an outsider finished a delivery to
// their file request titled title: who they said they are (an address
// nobody proved, which the mail says), what they put, and the inbox.
func (t Texts) DeliveryNotice(owner *ferry.User, title string, m ferry.Message) ferry.Mail {
	inbox := t.PublicURL + "/inbox"
	who := m.SenderEmail
	if m.SenderName != "" {
		who = m.SenderName + " (" + m.SenderEmail + ")"
	}
	held := ""
	if m.ScanPending {
		held = "The virus scanner could not check them yet: you can accept them once it has.\n\n"
	}
	return ferry.Mail{
		To:      owner.Email,
		Subject: fmt.Sprintf("Files arrived for your request %q", title),
		Body: fmt.Sprintf("Hello,\n\n%s uploaded %s (%s) to your file request %q. The name and address are what they typed; ferry did not check them.\n\n%sAccept or decline them in your inbox:\n\n  %s\n\n-- \nferry at %s\n",
			who, words.Count(m.Items, "file"), quota.FormatSize(m.Size), title, held, inbox, t.PublicURL),
		Links: links(inbox),
	}
}

// InviteSend invites email to ferry on behalf of sender, with what
// sender sent them: the items, their size, when the send expires, and the
// signup link with its code (also in open signup, where the link's form
// takes the code or none).
func (t Texts) InviteSend(sender *ferry.User, email, code string, destinations []string, total int64, expires time.Time) ferry.Mail {
	name := displayName(sender)
	link := t.PublicURL + "/signup?invite=" + code
	return ferry.Mail{
		To:      email,
		ReplyTo: sender.Email,
		Subject: fmt.Sprintf("%s sent you %s on ferry", name, words.Count(len(destinations), "item")),
		Body: fmt.Sprintf("Hello,\n\n%s (%s) sent you %s (%s) on ferry, where you can send each other files and folders:\n\n%s\nThey wait for you until %s. Create your account with this link, and they are in your inbox:\n\n  %s\n\n-- \nferry at %s\n",
			name, sender.Email, words.Count(len(destinations), "item"), quota.FormatSize(total), itemList(destinations),
			expires.UTC().Format("2 January 2006, 15:04 UTC"), link, t.PublicURL),
		Links: links(link),
	}
}

// itemList writes up to ten destinations, one a line, indented.
func itemList(destinations []string) string {
	var list strings.Builder
	for i, d := range destinations {
		if i == 10 {
			fmt.Fprintf(&list, "  ... and %d more\n", len(destinations)-10)
			break
		}
		fmt.Fprintf(&list, "  %s\n", d)
	}
	return list.String()
}

// ContactNotice tells contact that owner added them, and where to answer;
// or, back, that owner added them back.
func (t Texts) ContactNotice(owner, contact *ferry.User, back bool) ferry.Mail {
	name := displayName(owner)
	if back {
		return ferry.Mail{
			To:      contact.Email,
			ReplyTo: owner.Email,
			Subject: fmt.Sprintf("%s added you back", name),
			Body: fmt.Sprintf("Hello,\n\n%s (%s) added you back: you are in each other's contacts on ferry now.\n\n  %s/contacts\n\n-- \nferry at %s\n",
				name, owner.Email, t.PublicURL, t.PublicURL),
			Links: links(t.PublicURL + "/contacts"),
		}
	}
	return ferry.Mail{
		To:      contact.Email,
		ReplyTo: owner.Email,
		Subject: fmt.Sprintf("%s added you as a contact", name),
		Body: fmt.Sprintf("Hello,\n\n%s (%s) added you to their contacts on ferry. Add them back, or dismiss the request, on your contacts page:\n\n  %s/contacts\n\n-- \nferry at %s\n",
			name, owner.Email, t.PublicURL, t.PublicURL),
		Links: links(t.PublicURL + "/contacts"),
	}
}

// Reset is the mail with a password reset link for u.
func (t Texts) Reset(u *ferry.User, code string) ferry.Mail {
	link := t.PublicURL + "/reset?code=" + code
	return ferry.Mail{
		To:      u.Email,
		Subject: "Reset your ferry password",
		Body: fmt.Sprintf("Hello,\n\nSomeone, probably you, asked to reset the password of your ferry account %s. Choose a new one here (the link works once, for %s):\n\n  %s\n\nIf you did not ask, ignore this mail: your password stays as it is.\n\n-- \nferry at %s\n",
			u.Email, words.Duration(t.ResetLife), link, t.PublicURL),
		Links: links(link),
	}
}

// DownloadNotice tells owner that their link to file was downloaded, at
// at from ip (store.Options.DownloadNotice).
func (t Texts) DownloadNotice(owner *ferry.User, file string, at time.Time, ip string) ferry.Mail {
	settings := t.PublicURL + "/settings#mail-settings"
	from := ""
	if ip != "" {
		from = " from " + ip
	}
	return ferry.Mail{
		To:      owner.Email,
		Subject: "Your link to " + file + " was downloaded",
		Body: fmt.Sprintf("Hello,\n\n%s was downloaded through a link you made, at %s%s.\n\nYou get at most one such mail a link an hour. To stop them, change your mail settings:\n\n  %s\n\n-- \nferry at %s\n",
			file, at.UTC().Format("2006-01-02 15:04 UTC"), from, settings, t.PublicURL),
		Links: links(settings),
	}
}

// DecisionNotice tells sender what became of their sends: those one
// receiver accepted or declined in one inbox/update, or those one expiry
// sweep ended (store.Options.DecisionNotice).
func (t Texts) DecisionNotice(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
	count := map[string]int{}
	receivers := map[string]bool{}
	for _, o := range outcomes {
		count[o.Status]++
		receivers[o.To] = true
	}
	what := words.Count(len(outcomes), "item") + " you sent"
	var subject string
	switch {
	case len(receivers) == 1 && count[ferry.StatusAccepted] == len(outcomes):
		subject = fmt.Sprintf("%s accepted %s", outcomes[0].To, what)
	case len(receivers) == 1 && count[ferry.StatusDeclined] == len(outcomes):
		subject = fmt.Sprintf("%s declined %s", outcomes[0].To, what)
	case count[ferry.StatusExpired] == len(outcomes):
		subject = what + " expired before they were taken"
		if len(outcomes) == 1 {
			subject = what + " expired before it was taken"
		}
	case len(receivers) == 1:
		subject = fmt.Sprintf("%s decided on %s", outcomes[0].To, what)
	default:
		subject = "What became of " + what
	}
	var list strings.Builder
	for i, o := range outcomes {
		if i == 50 {
			fmt.Fprintf(&list, "  ... and %d more\n", len(outcomes)-50)
			break
		}
		fmt.Fprintf(&list, "  %s (%s), to %s: %s\n", o.Destination, quota.FormatSize(o.Size), o.To, o.Status)
	}
	outbox := t.PublicURL + "/outbox"
	return ferry.Mail{
		To:      sender.Email,
		Subject: subject,
		Body: fmt.Sprintf("Hello,\n\nWhat became of what you sent:\n\n%s\nYour outbox shows every send:\n\n  %s\n\nTo stop these mails, turn them off in your settings:\n\n  %s/settings\n\n-- \nferry at %s\n",
			list.String(), outbox, t.PublicURL, t.PublicURL),
		Links: links(outbox, t.PublicURL+"/settings"),
	}
}

// links lists the addresses a mail's HTML part makes links of; "" is none.
func links(urls ...string) []string {
	var list []string
	for _, u := range urls {
		if u != "" {
			list = append(list, u)
		}
	}
	return list
}

// displayName is how a user is named in mail. Full names and paths hold no
// control characters (ValidFullName, paths.Parse), and the mailer folds any
// in the subject anyway.
func displayName(u *ferry.User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Email
}

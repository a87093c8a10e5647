package front

import (
	"context"
	"errors"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/mailtext"
)

// Send sends sources of u's folder to the email to, as POST
// /api/1/ops/send and the web app's Send both do, with texts' mails. With
// invite, an email without an account gets an invitation that carries the
// send (docs/api.md, "Sending to people without an account"):
// NO_PERMISSION when signup (the auth.signup mode) is closed,
// TOO_MANY_REQUESTS past the daily invitation limit.
func Send(ctx context.Context, messages ferry.MessageService, texts mailtext.Texts, signup string, u *ferry.User, to string, sources []ferry.SendSource, invite bool) ([]uint64, error) {
	ids, err := messages.Send(ctx, u.ID, to, sources,
		func(receiver *ferry.User, destinations []string, total int64) ferry.Mail {
			return texts.SendNotice(u, receiver, destinations, total)
		})
	if !invite || !errors.Is(err, ferry.ErrNoReceiver) {
		return ids, err
	}
	if signup == "closed" {
		return nil, ferry.Errorf(ferry.ENOPERMISSION, "Signup is closed on this server: %s cannot be invited. Ask its administrator for an account for them.", to)
	}
	if to, err = ferry.NormalizeEmail(to); err != nil {
		return nil, err
	}
	return messages.SendInvited(ctx, u.ID, to, sources, func(code string, destinations []string, total int64, expires time.Time) ferry.Mail {
		return texts.InviteSend(u, to, code, destinations, total, expires)
	})
}

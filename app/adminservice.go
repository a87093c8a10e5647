package app

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// adminService is ferry.AdminService over the LocalAdmin that the CLI's
// commands use: the /admin/ calls and pages change accounts as `ferry
// user set` does.
type adminService struct{ a *LocalAdmin }

var _ ferry.AdminService = adminService{}

func (s adminService) Users(ctx context.Context, query, sort string, offset, limit int) ([]ferry.AdminUser, int, error) {
	users, err := s.a.DB.ListUsers()
	if err != nil {
		return nil, 0, err
	}
	page, total := s.page(users, query, sort, offset, limit, nil)
	return page, total, nil
}

// page filters users by query, orders them by sort and cuts a page; o,
// when set, is filled with the figures of every account.
func (s adminService) page(users []store.UserUsage, query, sort string, offset, limit int, o *ferry.AdminOverview) ([]ferry.AdminUser, int) {
	list := make([]ferry.AdminUser, 0, len(users))
	for _, u := range users {
		list = append(list, s.adminUser(u.User, u.Usage))
	}
	return pageOf(list, query, sort, offset, limit, o)
}

// pageOf is page of accounts as the console shows them (every node's, in
// cluster mode: clusterAdmin).
func pageOf(users []ferry.AdminUser, query, sort string, offset, limit int, o *ferry.AdminOverview) ([]ferry.AdminUser, int) {
	query = strings.ToLower(strings.TrimSpace(query))
	slices.SortStableFunc(users, func(a, b ferry.AdminUser) int { return strings.Compare(a.Email, b.Email) })
	var match []ferry.AdminUser
	for _, l := range users {
		if o != nil {
			o.Accounts++
			o.Stored += l.Normal
			o.ReceivedThisMonth += l.Received
			if l.Disabled {
				o.Disabled++
			}
			if l.Admin {
				o.Admins++
			}
		}
		if query != "" && !strings.Contains(l.Email, query) && !strings.Contains(strings.ToLower(l.FullName), query) {
			continue
		}
		match = append(match, l)
	}
	switch sort {
	case "usage":
		slices.SortStableFunc(match, func(a, b ferry.AdminUser) int { return cmp.Compare(b.Normal, a.Normal) })
	case "login":
		slices.SortStableFunc(match, func(a, b ferry.AdminUser) int { return b.LastLogin.Compare(a.LastLogin) })
	}
	total := len(match)
	if offset >= len(match) {
		return nil, total
	}
	return match[offset:min(len(match), offset+limit)], total
}

func (s adminService) Console(ctx context.Context, query, sort string, offset, limit int) (ferry.AdminOverview, []ferry.AdminUser, int, error) {
	var o ferry.AdminOverview
	users, err := s.a.DB.ListUsers()
	if err != nil {
		return o, nil, 0, err
	}
	page, total := s.page(users, query, sort, offset, limit, &o)
	st, err := s.a.DB.Stats()
	if err != nil {
		return o, nil, 0, err
	}
	o.SendsWaiting, o.MailQueued, o.MailFailed = st.PendingMessages, st.QueuedMail, st.FailedMail
	return o, page, total, nil
}

func (s adminService) Packages(ctx context.Context) ([]ferry.AdminPackage, error) {
	users, err := s.a.DB.ListUsers()
	if err != nil {
		return nil, err
	}
	people := map[string]int{}
	for _, u := range users {
		people[u.User.Package]++
	}
	var out []ferry.AdminPackage
	for name, l := range s.a.Packages.ByName {
		out = append(out, ferry.AdminPackage{Name: name, Storage: l.Storage, ReceivePerMonth: l.ReceivePerMonth,
			People: people[name], Default: name == s.a.Packages.Default})
	}
	slices.SortFunc(out, func(a, b ferry.AdminPackage) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s adminService) RetryMail(ctx context.Context, id uint64) error {
	return s.a.DB.RetryMail(ctx, id)
}

func (s adminService) DeleteMail(ctx context.Context, id uint64) error {
	return s.a.DB.DeleteMail(ctx, id)
}

func (s adminService) User(ctx context.Context, email string) (ferry.AdminUser, error) {
	u, err := s.a.DB.UserByEmail(email)
	if err != nil {
		return ferry.AdminUser{}, err
	}
	usage, err := s.a.DB.Usage(u.ID)
	if err != nil {
		return ferry.AdminUser{}, err
	}
	return s.adminUser(u, usage), nil
}

func (s adminService) adminUser(u *ferry.User, usage ferry.Usage) ferry.AdminUser {
	l := s.a.line(u, usage)
	return ferry.AdminUser{
		ID: u.ID, Email: u.Email, FullName: u.FullName, Package: u.Package,
		Storage: l.Storage, Normal: l.Used, ReceivingQuota: l.Receive, Received: l.Received,
		Disabled: u.Disabled, Admin: u.Admin, TwoFactor: u.TwoFactor, Created: u.Created, LastLogin: u.LastLogin,
	}
}

func (s adminService) UpdateUser(ctx context.Context, by *ferry.User, email string, ch ferry.AdminChange) (ferry.AdminUser, error) {
	target, err := s.a.DB.UserByEmail(email)
	if err != nil {
		return ferry.AdminUser{}, err
	}
	if target.ID == by.ID {
		if ch.Admin != nil && !*ch.Admin {
			return ferry.AdminUser{}, ferry.Errorf(ferry.EBADREQUEST, "You cannot take away your own administrator's role: ask another administrator.")
		}
		if ch.Disabled != nil && *ch.Disabled {
			return ferry.AdminUser{}, ferry.Errorf(ferry.EBADREQUEST, "You cannot disable your own account.")
		}
	}
	for _, v := range []*int64{ch.Storage, ch.Receive} {
		if v != nil && *v < 0 {
			return ferry.AdminUser{}, ferry.Errorf(ferry.EBADREQUEST, "A size must not be negative.")
		}
	}
	if _, err := s.a.setUser(ctx, SetUserRequest{Email: target.Email, Package: ch.Package, Storage: ch.Storage, Receive: ch.Receive,
		Disabled: ch.Disabled, Admin: ch.Admin, ResetTwoFactor: ch.ResetTwoFactor}); err != nil {
		return ferry.AdminUser{}, err
	}
	return s.User(ctx, target.Email)
}

func (s adminService) DeleteUser(ctx context.Context, by *ferry.User, email string) error {
	target, err := s.a.DB.UserByEmail(email)
	if err != nil {
		return err
	}
	if target.ID == by.ID {
		return ferry.Errorf(ferry.EBADREQUEST, "You cannot delete your own account here: use Settings, with your password.")
	}
	return s.a.deleteUser(ctx, target.Email)
}

func (s adminService) Mail(ctx context.Context, status string) ([]ferry.QueuedMail, error) {
	all, err := s.a.ListMail()
	if err != nil || status == "" {
		return all, err
	}
	var out []ferry.QueuedMail
	for _, m := range all {
		if m.Status == status {
			out = append(out, m)
		}
	}
	return out, nil
}

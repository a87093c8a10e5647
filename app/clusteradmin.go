package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/cluster"
)

// The admin console and the /admin/ calls in cluster mode: an
// administrator (served by their own node) sees and changes every node's
// accounts. The list is every live node's, read on the internal listener
// and merged; a change or a deletion goes to the account's node, which
// applies it as its own admin would, with the administrator as the actor
// in its audit log. The mail outbox is each node's own.

// clusterAdmin is ferry.AdminService over every node.
type clusterAdmin struct {
	adminService
	app *App
}

var _ ferry.AdminService = clusterAdmin{}

// Internal paths of the admin calls.
const (
	adminUsersPath  = "/_cluster/admin/users"
	adminChangePath = "/_cluster/admin/change"
)

// adminList is a node's accounts and figures, for the console.
type adminList struct {
	Users        []ferry.AdminUser `json:"users"`
	SendsWaiting int               `json:"sends_waiting"`
	MailQueued   int               `json:"mail_queued"`
	MailFailed   int               `json:"mail_failed"`
}

// adminCall is a change of one of a node's accounts by an administrator
// of another: Delete, or Change.
type adminCall struct {
	Email  string            `json:"email"`
	By     string            `json:"by"` // the administrator's email, for the audit log
	IP     string            `json:"ip"`
	Delete bool              `json:"delete,omitempty"`
	Change ferry.AdminChange `json:"change"`
}

// list is this node's accounts and figures.
func (s adminService) list() (adminList, error) {
	users, err := s.a.DB.ListUsers()
	if err != nil {
		return adminList{}, err
	}
	st, err := s.a.DB.Stats()
	if err != nil {
		return adminList{}, err
	}
	l := adminList{SendsWaiting: st.PendingMessages, MailQueued: st.QueuedMail, MailFailed: st.FailedMail}
	for _, u := range users {
		l.Users = append(l.Users, s.adminUser(u.User, u.Usage))
	}
	return l, nil
}

// all is every live node's list, merged.
func (s clusterAdmin) all(ctx context.Context) (adminList, error) {
	all, err := s.list()
	if err != nil {
		return adminList{}, err
	}
	for _, n := range s.app.cluster.Nodes() {
		if n.ID == s.app.cluster.Self() {
			continue
		}
		var l adminList
		if err := s.app.callNode(ctx, n.ID, adminUsersPath, struct{}{}, &l); err != nil {
			return adminList{}, fmt.Errorf("node %s's accounts: %w", n.ID, err)
		}
		for _, u := range l.Users {
			u.Node = n.ID
			all.Users = append(all.Users, u)
		}
		all.SendsWaiting += l.SendsWaiting
		all.MailQueued += l.MailQueued
		all.MailFailed += l.MailFailed
	}
	return all, nil
}

func (s clusterAdmin) Users(ctx context.Context, query, sort string, offset, limit int) ([]ferry.AdminUser, int, error) {
	all, err := s.all(ctx)
	if err != nil {
		return nil, 0, err
	}
	page, total := pageOf(all.Users, query, sort, offset, limit, nil)
	return page, total, nil
}

func (s clusterAdmin) Console(ctx context.Context, query, sort string, offset, limit int) (ferry.AdminOverview, []ferry.AdminUser, int, error) {
	var o ferry.AdminOverview
	all, err := s.all(ctx)
	if err != nil {
		return o, nil, 0, err
	}
	page, total := pageOf(all.Users, query, sort, offset, limit, &o)
	o.SendsWaiting, o.MailQueued, o.MailFailed = all.SendsWaiting, all.MailQueued, all.MailFailed
	return o, page, total, nil
}

// elsewhere is the node of email's account when it is another's: "" for
// this node's (or no one's: this node answers USER_NOT_FOUND).
func (s clusterAdmin) elsewhere(ctx context.Context, email string) (string, error) {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return "", nil
	}
	owner, err := s.app.cluster.Owner(ctx, email)
	if errors.Is(err, cluster.ErrNoOwner) || (err == nil && owner == s.app.cluster.Self()) {
		return "", nil
	}
	return owner, err
}

func (s clusterAdmin) User(ctx context.Context, email string) (ferry.AdminUser, error) {
	node, err := s.elsewhere(ctx, email)
	if err != nil || node == "" {
		if err != nil {
			return ferry.AdminUser{}, err
		}
		return s.adminService.User(ctx, email)
	}
	var u ferry.AdminUser
	err = s.app.callNode(ctx, node, adminChangePath, adminCall{Email: email}, &u)
	u.Node = node
	return u, err
}

func (s clusterAdmin) UpdateUser(ctx context.Context, by *ferry.User, email string, ch ferry.AdminChange) (ferry.AdminUser, error) {
	node, err := s.elsewhere(ctx, email)
	if err != nil || node == "" {
		if err != nil {
			return ferry.AdminUser{}, err
		}
		return s.adminService.UpdateUser(ctx, by, email, ch)
	}
	var u ferry.AdminUser
	call := adminCall{Email: email, By: by.Email, IP: ferry.ActorOf(ctx).IP, Change: ch}
	err = s.app.callNode(ctx, node, adminChangePath, call, &u)
	u.Node = node
	return u, err
}

func (s clusterAdmin) DeleteUser(ctx context.Context, by *ferry.User, email string) error {
	node, err := s.elsewhere(ctx, email)
	if err != nil || node == "" {
		if err != nil {
			return err
		}
		return s.adminService.DeleteUser(ctx, by, email)
	}
	return s.app.callNode(ctx, node, adminChangePath, adminCall{Email: email, By: by.Email, IP: ferry.ActorOf(ctx).IP, Delete: true}, nil)
}

// adminChange applies another node's administrator's call to one of this
// node's accounts (none: only reads it), as this node's admin would; the
// administrator is never that account (theirs is on their own node).
func (s adminService) adminChange(ctx context.Context, c adminCall) (ferry.AdminUser, error) {
	if c.By != "" {
		ctx = ferry.WithActor(ctx, ferry.Actor{Email: c.By, IP: c.IP})
	}
	nobody := &ferry.User{}
	switch {
	case c.Delete:
		return ferry.AdminUser{}, s.DeleteUser(ctx, nobody, c.Email)
	case c.By != "":
		return s.UpdateUser(ctx, nobody, c.Email, c.Change)
	default:
		return s.User(ctx, c.Email)
	}
}

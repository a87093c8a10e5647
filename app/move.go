package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/cluster"
	"github.com/ferryhq/ferry/store"
)

// Moving an account to another node (`ferry cluster move`,
// docs/cluster.md). The old node does it: it freezes the account (its
// requests answer 503 for the few seconds it takes; those under way
// finish first), hands it whole to the new node, switches the directory
// with the revision it read at the start as the fence (the switch fails
// if anything changed the entry meanwhile), and ends its own copy
// (store/move.go). A crash between the steps is resolved from the
// directory when the node runs again: switched, the old copy ends;
// not, the move is undone.

// Paths of the internal listener for moves.
const (
	movePath   = "/_cluster/move"    // the CLI asks the owner to move an account
	moveInPath = "/_cluster/move/in" // the owner hands the account to its new node
)

// moveFreeze bounds how long a move waits for the account's requests
// under way (a long download) before it gives up.
const moveFreeze = 30 * time.Second

// MoveRequest is a move's order, as the CLI posts it.
type MoveRequest struct {
	Email string `json:"email"`
	To    string `json:"to"`
}

// MoveReport is what a move did.
type MoveReport struct {
	Email    string `json:"email"`
	From     string `json:"from"`
	To       string `json:"to"`
	Fence    int64  `json:"fence"`
	Files    int    `json:"files"`
	Inbox    int    `json:"inbox"`
	Sent     int    `json:"sent"`
	Tokens   int    `json:"tokens"`
	Links    int    `json:"links"`
	Contacts int    `json:"contacts"`
}

// moveTimeout bounds a whole move, the hand-over of a large folder
// included.
const moveTimeout = time.Hour

// moveOut moves account email from this node to node to. It runs to its
// end even when whoever asked goes away (a move cut halfway would stay
// frozen until resolveMoves).
func (a *App) moveOut(ctx context.Context, req MoveRequest) (MoveReport, error) {
	ctx, cancelMove := context.WithTimeout(context.WithoutCancel(ctx), moveTimeout)
	defer cancelMove()
	self := a.cluster.Self()
	email, err := ferry.NormalizeEmail(req.Email)
	if err != nil {
		return MoveReport{}, err
	}
	switch _, live := a.cluster.Addr(req.To); {
	case req.To == self:
		return MoveReport{}, ferry.Errorf(ferry.EBADREQUEST, "%s is on node %s already.", email, self)
	case !live:
		return MoveReport{}, ferry.Errorf(ferry.EBADREQUEST, "Node %q is not live.", req.To)
	}
	owner, fence, err := a.cluster.Fence(ctx, email)
	if errors.Is(err, cluster.ErrNoOwner) || (err == nil && owner != self) {
		return MoveReport{}, ferry.Errorf(ferry.EUSERNOTFOUND, "This node (%s) does not own %s.", self, email)
	} else if err != nil {
		return MoveReport{}, err
	}
	if _, busy := a.moving.LoadOrStore(email, true); busy {
		return MoveReport{}, ferry.ErrMoving
	}
	defer a.moving.Delete(email)
	fctx, cancel := context.WithTimeout(ctx, moveFreeze)
	thaw, err := a.db.Freeze(fctx, email)
	cancel()
	if err != nil {
		return MoveReport{}, err
	}
	begun := false
	defer func() {
		if !begun {
			thaw()
		}
	}()
	mv, err := a.db.ExportUser(email, self, fence)
	if errors.Is(err, store.ErrHasRequests) {
		return MoveReport{}, ferry.Errorf(ferry.EBADREQUEST, "%s: %v.", email, err)
	} else if err != nil {
		return MoveReport{}, err
	}
	// Recorded first: a crash from here on is resolved at the next start.
	if err := a.db.BeginMoveOut(ctx, email, req.To, fence); err != nil {
		return MoveReport{}, err
	}
	begun = true // frozen until it ends, also across a restart
	var ids map[uint64]uint64
	err = a.callNode(ctx, req.To, moveInPath, mv, &ids)
	if err == nil {
		err = a.db.MoveIDs(ctx, email, ids)
	}
	if err != nil {
		if rerr := a.resolveMove(ctx, store.MoveOut{Email: email, To: req.To, Fence: fence}); rerr != nil {
			a.log.Warn("cluster: undoing a move", "email", email, "err", rerr)
		}
		return MoveReport{}, fmt.Errorf("handing the account to node %s: %w; nothing moved", req.To, err)
	}
	report := MoveReport{Email: email, From: self, To: req.To, Fence: fence, Files: len(mv.Files), Inbox: len(mv.Inbox),
		Sent: len(mv.Sent), Tokens: len(mv.Tokens), Links: len(mv.Links), Contacts: len(mv.Contacts)}
	if err := a.cluster.Switch(ctx, email, fence, req.To); err != nil {
		if rerr := a.resolveMove(ctx, store.MoveOut{Email: email, To: req.To, Fence: fence}); rerr != nil {
			return MoveReport{}, fmt.Errorf("switching the directory: %w (%v: the account stays frozen until it is known)", err, rerr)
		}
		if owner, _, _ := a.cluster.Fence(ctx, email); owner == req.To {
			return report, nil // (it had switched)
		}
		if errors.Is(err, cluster.ErrFenced) {
			return MoveReport{}, ferry.Errorf(ferry.EBADREQUEST, "The directory's entry of %s changed while it moved; nothing moved.", email)
		}
		return MoveReport{}, fmt.Errorf("switching the directory: %w; nothing moved", err)
	}
	if err := a.db.FinishMoveOut(ctx, email); err != nil {
		return MoveReport{}, fmt.Errorf("moved, but ending the copy here: %w (done again at the next start)", err)
	}
	a.wakeDeliverer()
	a.log.Info("cluster: account moved", "email", email, "to", req.To, "fence", fence)
	return report, nil
}

// resolveMove ends a move begun here as the directory says: switched to
// its node, the copy here ends; still this node's, it is undone. An
// error leaves it as it is (frozen), for the next try.
func (a *App) resolveMove(ctx context.Context, mo store.MoveOut) error {
	owner, _, err := a.cluster.Fence(ctx, mo.Email)
	if err != nil && !errors.Is(err, cluster.ErrNoOwner) {
		return err
	}
	if owner != mo.To {
		// Not switched: fenced again at the same revision, so that a
		// switch still on its way to etcd cannot land after the undo.
		err := a.cluster.Switch(ctx, mo.Email, mo.Fence, a.cluster.Self())
		if errors.Is(err, cluster.ErrFenced) {
			if owner, _, err = a.cluster.Fence(ctx, mo.Email); err != nil && !errors.Is(err, cluster.ErrNoOwner) {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	if owner == mo.To {
		if err := a.db.FinishMoveOut(ctx, mo.Email); err != nil {
			return err
		}
		a.wakeDeliverer()
		return nil
	}
	return a.db.AbortMoveOut(ctx, mo.Email) // (its envelope has the new node forget its copy)
}

// resolveMoves resolves the moves a crash (or etcd not answering) left
// between their steps, but those under way here.
func (a *App) resolveMoves(ctx context.Context) {
	list, err := a.db.MovesOut()
	if err != nil {
		a.log.Error("cluster: reading the moves under way", "err", err)
		return
	}
	for _, mo := range list {
		if _, busy := a.moving.Load(mo.Email); busy {
			continue
		}
		if err := a.resolveMove(ctx, mo); err != nil {
			a.log.Warn("cluster: a move's outcome is not known yet", "email", mo.Email, "err", err)
		}
	}
}

// leftoverAge is how old a copy a move made here must be before
// checkImports asks the directory about it: far longer than a move takes
// from the copy to the switch.
const leftoverAge = 2 * time.Minute

// checkImports looks at the accounts moves made here that the directory
// was not seen to give this node: one it gives is confirmed; one it does
// not is a move's leftover (its old node crashed before the switch and
// has not undone it), which is fenced at the move's revision, so that
// the switch can no longer land, and forgotten.
func (a *App) checkImports(ctx context.Context) {
	list, err := a.db.Imports(leftoverAge)
	if err != nil {
		a.log.Error("cluster: reading the accounts moved here", "err", err)
		return
	}
	for _, in := range list {
		owner, _, err := a.cluster.Fence(ctx, in.Email)
		if err != nil && !errors.Is(err, cluster.ErrNoOwner) {
			return // (etcd: next time)
		}
		if owner != a.cluster.Self() {
			err = a.cluster.Switch(ctx, in.Email, in.Fence, in.From) // (same owner, new revision)
			if errors.Is(err, cluster.ErrFenced) {
				owner, _, err = a.cluster.Fence(ctx, in.Email)
			}
			if err != nil && !errors.Is(err, cluster.ErrNoOwner) {
				return
			}
		}
		if owner == a.cluster.Self() {
			err = a.db.ConfirmImport(ctx, in.Email)
		} else {
			a.log.Info("cluster: forgetting the copy of a move that did not switch", "email", in.Email, "from", in.From)
			err = a.db.DropImported(ctx, in.Email)
		}
		if err != nil {
			a.log.Error("cluster: checking an account moved here", "email", in.Email, "err", err)
		}
	}
}

// moveIn makes the account another node hands over, once the directory
// still names that node at the move's fence.
func (a *App) moveIn(ctx context.Context, mv *store.Move) (map[uint64]uint64, error) {
	owner, fence, err := a.cluster.Fence(ctx, mv.User.Email)
	if err != nil {
		return nil, err
	}
	if owner != mv.From || fence != mv.Fence {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "The directory no longer gives %s to node %s as at the move's start.", mv.User.Email, mv.From)
	}
	return a.db.ImportUser(ctx, mv, a.cluster.Self(), true)
}

// callNode posts v to another node's internal listener and decodes its
// answer into out (when not nil).
func (a *App) callNode(ctx context.Context, node, path string, v, out any) error {
	return a.callNodeVia(ctx, http.DefaultClient, node, path, v, out)
}

// callNodeVia is callNode through client (the deliverer's own).
func (a *App) callNodeVia(ctx context.Context, client *http.Client, node, path string, v, out any) error {
	addr, live := a.cluster.Addr(node)
	if !live {
		return fmt.Errorf("node %s is not live", node)
	}
	return postInternal(ctx, client, addr, a.cfg.Cluster.Secret, path, v, out)
}

// postInternal posts v as JSON to the internal listener at addr.
func postInternal(ctx context.Context, client *http.Client, addr, secret, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(headerSecret, secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error, Message string
		}
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			if e.Error == "" || e.Error == ferry.EUNKNOWN {
				return errors.New(e.Message)
			}
			return ferry.Errorf(e.Error, "%s", e.Message)
		}
		return fmt.Errorf("%s answered %s", addr, res.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// ClusterMove is `ferry cluster move`: it asks the node that owns email
// to move it to node to, and prints what moved.
func ClusterMove(ctx context.Context, cfg Config, email, to string, w io.Writer) error {
	if cfg.Cluster.Node == "" || len(cfg.Cluster.Etcd) == 0 {
		return errors.New("cluster move: the config has no [cluster] node and etcd")
	}
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("cluster move: --email: %w", err)
	}
	if err := cluster.ValidNode(to); err != nil {
		return fmt.Errorf("cluster move: --to: %w", err)
	}
	st, err := cluster.ReadStatus(ctx, cfg.clusterConfig())
	if err != nil {
		return fmt.Errorf("cluster move: etcd: %w", err)
	}
	dir, err := cluster.OpenDirectory(cfg.clusterConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("cluster move: %w", err)
	}
	defer dir.Close()
	owner, err := dir.LookUp(ctx, email)
	if err != nil {
		return fmt.Errorf("cluster move: %s: %w", email, err)
	}
	addr := ""
	for _, n := range st.Nodes {
		if n.ID == owner {
			addr = n.Addr
		}
	}
	if addr == "" {
		return fmt.Errorf("cluster move: %s is on node %s, which is down", email, owner)
	}
	ctx, cancel := context.WithTimeout(ctx, moveTimeout+time.Minute)
	defer cancel()
	var r MoveReport
	if err := postInternal(ctx, http.DefaultClient, addr, cfg.Cluster.Secret, movePath, MoveRequest{Email: email, To: to}, &r); err != nil {
		if ferry.ErrorCode(err) != ferry.EUNKNOWN {
			return fmt.Errorf("cluster move: %s", ferry.ErrorMessage(err))
		}
		return fmt.Errorf("cluster move: %w", err)
	}
	fmt.Fprintf(w, "moved %s from %s to %s (directory revision %d): %d files and folders, %d sends waiting for it, %d of its sends waiting, %d sessions and tokens, %d links, %d contacts\n",
		r.Email, r.From, r.To, r.Fence, r.Files, r.Inbox, r.Sent, r.Tokens, r.Links, r.Contacts)
	return nil
}

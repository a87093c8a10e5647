package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// timeLayout is the seed's timestamp format.
const timeLayout = "2006-01-02 15:04:05.000000-07"

// sourceEntry is one element of /ops/send's source, as the seed writes it.
type sourceEntry struct {
	Path   string   `json:"path"`
	Files  []string `json:"files"`
	Folder bool     `json:"folder"`
}

// handleSend is POST /ops/send: to and source.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var entries []sourceEntry
	if err := p.JSON("source", &entries); err != nil {
		s.writeError(w, r, err)
		return
	}
	sources, err := s.parseSources(entries)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to := strings.TrimSpace(p.String("to"))
	if to == "" {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "to (the receiver's email) is required."))
		return
	}
	ids, err := s.messages.Send(u.ID, to, sources,
		func(receiver *ferry.User, destinations []string, total int64) ferry.Mail {
			return s.sendNotice(u, receiver, destinations, total)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]uint64{"messages": ids})
}

// parseSources checks a source array and parses its paths.
func (s *Server) parseSources(entries []sourceEntry) ([]ferry.SendSource, error) {
	if len(entries) == 0 {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "source must list at least one entry.")
	}
	if max := s.cfg.SendMaxEntries; max > 0 && len(entries) > max {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "A send may have at most %d source entries.", max)
	}
	listed := 0
	for _, e := range entries {
		listed += len(e.Files)
	}
	if err := checkItems("source's files", max(listed, 1)); err != nil {
		return nil, err
	}
	sources := make([]ferry.SendSource, len(entries))
	for i, e := range entries {
		dir, err := paths.Parse(e.Path)
		if err != nil {
			return nil, err
		}
		src := ferry.SendSource{Path: dir, Folder: e.Folder}
		for _, f := range e.Files {
			names, err := paths.Parse(f)
			if err != nil {
				return nil, err
			}
			if len(names) == 0 {
				return nil, ferry.Errorf(ferry.EBADREQUEST, "A listed file must not be empty.")
			}
			src.Files = append(src.Files, names)
		}
		sources[i] = src
	}
	return sources, nil
}

// inboxMessage is one row of /inbox/list.
type inboxMessage struct {
	ID          uint64 `json:"id"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Destination string `json:"destination"`
	Timestamp   string `json:"timestamp"`
	SenderName  string `json:"sender_name"`
	SenderEmail string `json:"sender_email"`
}

// handleInboxList is GET /inbox/list: the messages still waiting, oldest
// first.
func (s *Server) handleInboxList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	msgs, err := s.messages.Inbox(u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]inboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = inboxMessage{
			ID: m.ID, Type: "SEND", Size: m.Size, Destination: m.Destination,
			Timestamp: m.Created.Format(timeLayout), SenderName: m.SenderName, SenderEmail: m.SenderEmail,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// outboxMessage is one row of /outbox/list.
type outboxMessage struct {
	ID          uint64 `json:"id"`
	To          string `json:"to"`
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	Timestamp   string `json:"timestamp"`
	Status      string `json:"status"`
}

// handleOutboxList is GET /outbox/list: everything the user has sent,
// oldest first, with its status.
func (s *Server) handleOutboxList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	msgs, err := s.messages.Outbox(u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]outboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = outboxMessage{
			ID: m.ID, To: m.To, Destination: m.Destination, Size: m.Size,
			Timestamp: m.Created.Format(timeLayout), Status: m.Status,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// decision is one element of /inbox/update's messages, as the seed writes
// it: an id (a number, or a number in a string) and accept YES or NO.
type decision struct {
	ID     json.RawMessage `json:"id"`
	Accept *string         `json:"accept"`
}

// messageFailure is one failed item of /inbox/update.
type messageFailure struct {
	ID    json.RawMessage `json:"id"`
	Error string          `json:"error"`
}

// handleInboxUpdate is POST /inbox/update: accept or decline messages, in
// order, each whole or not at all.
func (s *Server) handleInboxUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var given []decision
	if err := p.JSON("messages", &given); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkItems("messages", len(given)); err != nil {
		s.writeError(w, r, err)
		return
	}
	b := newBatch(len(given))
	var decisions []ferry.Decision
	for i, d := range given {
		id, ok := messageID(d.ID)
		if !ok {
			b.refuse(i, ferry.Errorf(ferry.EMESSAGENOTFOUND, "No such message."))
			continue
		}
		accept := false
		if d.Accept != nil {
			switch strings.ToUpper(*d.Accept) {
			case "YES":
				accept = true
			case "NO":
			default:
				b.refuse(i, ferry.Errorf(ferry.EBADREQUEST, "accept must be YES or NO."))
				continue
			}
		}
		decisions = append(decisions, ferry.Decision{ID: id, Accept: accept})
		b.pass(i)
	}
	results, err := s.messages.UpdateInbox(u.ID, decisions)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b.results(results)
	answerBatch(w, b, func(i int, code string) messageFailure {
		id := given[i].ID
		if len(id) == 0 {
			id = json.RawMessage("null")
		}
		return messageFailure{ID: id, Error: code}
	})
}

// messageID reads an id sent as a JSON number or a numeric string.
func messageID(raw json.RawMessage) (uint64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return id, err == nil && id > 0
}

// handleSettingsUpdate is POST /settings/update: fullname, current_password
// with new_password, accept_all (0/1); each optional.
func (s *Server) handleSettingsUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var ch ferry.SettingsChange
	if p.Has("fullname") {
		name := p.String("fullname")
		ch.FullName = &name
	}
	if p.Has("new_password") {
		pw := p.String("new_password")
		ch.NewPassword, ch.CurrentPassword = &pw, p.String("current_password")
	}
	if p.Has("accept_all") {
		on, err := p.Bool("accept_all")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ch.AcceptAll = &on
	}
	if err := s.users.ChangeSettings(u.ID, tokenOf(r), ch); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
)

// inboxMessage is one row of /inbox/list.
type inboxMessage struct {
	ID          uint64 `json:"id"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Destination string `json:"destination"`
	Timestamp   string `json:"timestamp"`
	SenderName  string `json:"sender_name"`
	SenderEmail string `json:"sender_email"`
	// Request is a delivery's file request; Scan is "pending" while what
	// it carries waits for the virus scanner.
	Request uint64 `json:"request,omitempty"`
	Scan    string `json:"scan,omitempty"`
}

// handleInboxList is GET /inbox/list: the messages still waiting, oldest
// first.
func (s *Server) handleInboxList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	msgs, err := s.messages.Inbox(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]inboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = inboxMessage{
			ID: m.ID, Type: m.Type(), Size: m.Size, Destination: m.Destination,
			Timestamp: m.Created.Format(timeLayout), SenderName: m.SenderName, SenderEmail: m.SenderEmail, Request: m.Request,
		}
		if m.ScanPending {
			out[i].Scan = "pending"
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
	msgs, err := s.messages.Outbox(r.Context(), u.ID)
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
	results, err := s.messages.UpdateInbox(r.Context(), u.ID, decisions)
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

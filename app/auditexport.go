package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
)

// AuditExport is `ferry audit export`: the events between Since and Until
// (zero: no bound), in Format jsonl or csv.
type AuditExport struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Format string    `json:"format"`
}

// exportedEvent is an event as the export writes it, with the account's
// email beside its id.
type exportedEvent struct {
	ID     uint64         `json:"id"`
	Time   string         `json:"time"`
	User   uint64         `json:"user"`
	Action string         `json:"action"`
	Actor  string         `json:"actor"`
	IP     string         `json:"ip"`
	Target string         `json:"target"`
	Detail map[string]any `json:"detail"`
}

// csvHeader is the export's first CSV line.
var csvHeader = []string{"id", "time", "user", "action", "actor", "ip", "target", "detail"}

// ExportAudit implements Admin: the events, oldest first, written to w as
// they are read.
func (a *LocalAdmin) ExportAudit(req AuditExport, w io.Writer) error {
	var write func(e exportedEvent) error
	var flush func() error
	switch req.Format {
	case "", "jsonl":
		enc := json.NewEncoder(w)
		write, flush = func(e exportedEvent) error { return enc.Encode(e) }, func() error { return nil }
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
		write = func(e exportedEvent) error {
			detail, err := json.Marshal(e.Detail)
			if err != nil {
				return err
			}
			return cw.Write([]string{strconv.FormatUint(e.ID, 10), e.Time, strconv.FormatUint(e.User, 10), e.Action, e.Actor, e.IP, e.Target, string(detail)})
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return ferry.Errorf(ferry.EBADREQUEST, "--format must be jsonl or csv, not %q.", req.Format)
	}
	err := a.DB.ExportAudit(context.Background(), ferry.AuditFilter{Since: req.Since, Until: req.Until}, func(e ferry.Event) error {
		d := e.Detail
		if d == nil {
			d = map[string]any{}
		}
		return write(exportedEvent{ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano), User: e.User, Action: e.Action,
			Actor: e.Actor, IP: e.IP, Target: e.Target, Detail: d})
	})
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return flush()
}

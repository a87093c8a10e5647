package store_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

var auditEvents = flag.Int("audit-events", 1_000_000, "events in the audit log for BenchmarkActivityPage")

// BenchmarkActivityPage lists the newest page of a hundred events of an
// account, and the page before the oldest thousand, with -audit-events
// events in the log (a million by default); it reports the database's
// growth per event. The targets (docs/performance.md): a page in under
// 50 ms.
func BenchmarkActivityPage(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "audited@example.com")
	before := db.UsedPagesForTest()
	start := time.Now()
	require.NoError(b, db.RecordEventsForTest(u.ID, *auditEvents))
	b.Logf("%d events written in %v", *auditEvents, time.Since(start).Round(time.Millisecond))
	growth := float64(db.UsedPagesForTest()-before) * 4096 / float64(*auditEvents)
	newest, err := db.Activity(ctx, ferry.AuditFilter{User: u.ID, Limit: 100})
	require.NoError(b, err)
	require.Len(b, newest, 100)
	deep := newest[0].ID - uint64(*auditEvents) + 1000
	b.ResetTimer()
	for b.Loop() {
		for _, f := range []ferry.AuditFilter{{User: u.ID, Limit: 100}, {Limit: 100}, {User: u.ID, Before: deep, Limit: 100}} {
			page, err := db.Activity(ctx, f)
			if err != nil || len(page) != 100 {
				b.Fatalf("%+v: %d events, %v", f, len(page), err)
			}
		}
	}
	b.ReportMetric(growth, "bytes/event")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/3/1000, "ms/page")
}

// BenchmarkListUsers10k lists 10,000 accounts with their usage, as the
// admin console's people page does before it filters, orders and cuts a
// page (docs/performance.md: under 100 ms a page).
func BenchmarkListUsers10k(b *testing.B) {
	db := benchDB(b)
	require.NoError(b, db.AddUsersForTest("person", 10000))
	b.ResetTimer()
	for b.Loop() {
		users, err := db.ListUsers()
		if err != nil || len(users) != 10000 {
			b.Fatalf("%d users, %v", len(users), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/list")
}

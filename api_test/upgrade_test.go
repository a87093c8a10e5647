package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// A data folder written by the previous schema (5: a message's items in a
// bucket of their own) is served after its migration at start-up: the
// sends are where they were, a pending one is accepted with its items,
// and the data passes fsck when the server stops (the harness's check).
func TestUpgrade_Schema5DataFolder(t *testing.T) {
	dir := ferrytest.Schema5(t)
	ts := startServer(t, func(c *app.Config) {
		c.DataDir = dir
		c.Blobs = app.Default().Blobs // its blobs are in the folder
	})
	ann := ts.login("ann@example.com", "password1")
	assert.Equal(t, []string{"pending", "accepted", "declined", "invited"}, ann.outboxStatuses())

	bob := ts.login("bob@example.com", "password1")
	inbox := bob.inbox()
	require.Len(t, inbox, 1)
	assert.Equal(t, uint64(1), inbox[0].ID)
	assert.Equal(t, int64(17), inbox[0].Size)
	assert.Equal(t, "second day, longer", string(bob.getFile("trip/sub/b.txt").requireStatus(http.StatusOK).Body),
		"the folder bob accepted before the upgrade")

	bob.decide(accept(1)).requireStatus(http.StatusOK)
	assert.Empty(t, bob.inbox())
	assert.Equal(t, "the yearly report", string(bob.getFile("docs/report.txt").requireStatus(http.StatusOK).Body),
		"the pending send's item, from its migrated record")
	assert.Equal(t, []string{"accepted", "accepted", "declined", "invited"}, ann.outboxStatuses())
}

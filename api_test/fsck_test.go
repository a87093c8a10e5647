package api_test

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

func TestFsck(t *testing.T) {
	config, dataDir := cliConfig(t, "")
	cfg, err := app.LoadConfig(config)
	require.NoError(t, err)
	ts := startServerWith(t, cfg)
	sender := ts.newUser("fsck@example.com")
	ts.addUser("other@example.com", password)
	sender.mustPut("docs/a.txt", []byte("alpha"))
	sender.mustPut("docs/sub/b.txt", []byte("bravo!"))
	sender.mustSend("other@example.com", `[{"path":"docs","files":["a.txt"]}]`)
	// While ferry serves, through its admin socket.
	assert.Equal(t, "fsck: no problems\n", ferryCLI(t, config, "", "fsck").requireOK(t))
	ts.stop()
	assert.Equal(t, "fsck: no problems\n", ferryCLI(t, config, "", "fsck").requireOK(t))

	// A blob file that a write cut off before its commit left (as after a
	// power cut) is debris, not damage: exit 0, and the next start sweeps
	// it.
	blobs := ferrytest.BlobsOf(t, cfg)
	blobs.Put(strings.Repeat("cd", 32), []byte("cut off before its commit"))
	out := ferryCLI(t, config, "", "fsck").requireOK(t)
	assert.Contains(t, out, "debris: blob "+strings.Repeat("cd", 32)+": no record refers to it\n")
	assert.Contains(t, out, "fsck: no problems; 1 file left by writes cut off before their commit")
	startServerWith(t, cfg).stop()
	assert.Equal(t, "fsck: no problems\n", ferryCLI(t, config, "", "fsck").requireOK(t), "the start swept it")

	// Damage what can be derived, behind ferry's back.
	b, err := bolt.Open(filepath.Join(dataDir, "ferry.db"), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		usage := tx.Bucket([]byte("usage"))
		return usage.ForEach(func(k, v []byte) error {
			nv := append([]byte(nil), v...)
			binary.BigEndian.PutUint64(nv, 999) // normal
			return usage.Put(k, nv)
		})
	}))
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		blobs := tx.Bucket([]byte("blobs"))
		return blobs.ForEach(func(k, v []byte) error {
			nv := append([]byte(nil), v...)
			binary.BigEndian.PutUint64(nv, 7) // reference count
			return blobs.Put(k, nv)
		})
	}))
	require.NoError(t, b.Close())
	blobs.Put(strings.Repeat("ab", 32), []byte("left by a crash"))

	r := ferryCLI(t, config, "", "fsck")
	r.requireFail(t, 1, "fsck: ")
	assert.Contains(t, r.stdout, "has normal 999, but their files total 11")
	assert.Contains(t, r.stdout, "has reference count 7, but 2 records refer to it") // a.txt: its file and the pending send
	assert.Contains(t, r.stdout, "debris: blob "+strings.Repeat("ab", 32)+": no record refers to it")
	assert.Contains(t, r.stderr, "fsck: 3 problems", "the debris is not counted with them")

	r = ferryCLI(t, config, "", "fsck", "--repair")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "fixed: user 1: normal 999 -> 11")
	assert.Contains(t, r.stdout, "reference count 7 -> 2")
	assert.Contains(t, r.stdout, "fixed: removed 1 blob files")
	assert.Equal(t, "fsck: no problems\n", ferryCLI(t, config, "", "fsck").requireOK(t))

	// Damaged content cannot be derived: reported (unless --quick), kept.
	blobs.Put(blobs.Names()[0], []byte("bit rot"))
	r = ferryCLI(t, config, "", "fsck")
	r.requireFail(t, 1, "1 problems")
	assert.Contains(t, r.stdout, "its content hashes to")
	assert.Equal(t, "fsck: no problems\n", ferryCLI(t, config, "", "fsck", "--quick").requireOK(t))
	ferryCLI(t, config, "", "fsck", "--repair").requireFail(t, 1, "1 problems")
}

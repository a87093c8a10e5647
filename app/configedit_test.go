package app_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// SetBlobsBackend changes the one line, adds it to [blobs], or adds the
// table; comments and every other key stay as they were.
func TestSetBlobsBackend(t *testing.T) {
	s3 := "endpoint = \"s3.example\"\nbucket = \"b\"\naccess_key = \"a\"\nsecret_key = \"s\"\n"
	for _, tc := range []struct{ name, before, after string }{
		{"the line", "# mine\n[blobs]\nbackend = \"local\" # for now\n" + s3 + "[log]\nlevel = \"debug\"\n",
			"# mine\n[blobs]\nbackend = \"s3\"\n" + s3 + "[log]\nlevel = \"debug\"\n"},
		{"a line in the table", "[blobs]\n" + s3 + "[log]\nlevel = \"debug\"\n",
			"[blobs]\nbackend = \"s3\"\n" + s3 + "[log]\nlevel = \"debug\"\n"},
		{"the table", "listen = \"127.0.0.1:1\"\n",
			"listen = \"127.0.0.1:1\"\n\n[blobs]\nbackend = \"s3\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "the table" {
				for k, v := range map[string]string{"ENDPOINT": "s3.example", "BUCKET": "b", "ACCESS_KEY": "a", "SECRET_KEY": "s"} {
					t.Setenv("FERRY_BLOBS_"+k, v)
				}
			}
			path := writeConfig(t, tc.before)
			require.NoError(t, os.Chmod(path, 0o640))
			require.NoError(t, app.SetBlobsBackend(path, "s3"))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.after, string(got))
			info, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o640), info.Mode().Perm(), "the file keeps its mode")
		})
	}
	// What would not load is not written.
	bad := writeConfig(t, "[blobs]\nbackend = \"local\"\n")
	require.Error(t, app.SetBlobsBackend(bad, "s3"), "s3 without a bucket")
	got, err := os.ReadFile(bad)
	require.NoError(t, err)
	assert.Equal(t, "[blobs]\nbackend = \"local\"\n", string(got))
}

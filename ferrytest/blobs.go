package ferrytest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// Blobs reaches the blobs of a config behind ferry's back, files or
// objects, as a crash, a failing disk or an operator would: for the tests
// that damage them.
type Blobs struct {
	t   testing.TB
	cfg app.Config
	s3  *minio.Client
}

// BlobsOf returns access to cfg's blobs.
func BlobsOf(t testing.TB, cfg app.Config) *Blobs {
	b := &Blobs{t: t, cfg: cfg}
	if cfg.Blobs.Backend == "s3" {
		c, err := minio.New(cfg.Blobs.Endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(cfg.Blobs.AccessKey, cfg.Blobs.SecretKey, ""), Region: cfg.Blobs.Region, Secure: cfg.Blobs.TLS})
		require.NoError(t, err)
		b.s3 = c
	}
	return b
}

func (b *Blobs) path(sha string) string {
	return filepath.Join(b.cfg.DataDir, "blobs", sha[:2], sha)
}

func (b *Blobs) key(sha string) string {
	return b.cfg.Blobs.Prefix + sha[:2] + "/" + sha
}

// Put stores data under the blob name sha, whatever it hashes to.
func (b *Blobs) Put(sha string, data []byte) {
	b.t.Helper()
	if b.s3 == nil {
		require.NoError(b.t, os.WriteFile(b.path(sha), data, 0o600))
		return
	}
	_, err := b.s3.PutObject(context.Background(), b.cfg.Blobs.Bucket, b.key(sha), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableContentSha256: true})
	require.NoError(b.t, err)
}

// PutKey stores data as the object key (blobs in S3 only).
func (b *Blobs) PutKey(key string, data []byte) {
	b.t.Helper()
	require.NotNil(b.t, b.s3, "blobs in S3 only")
	_, err := b.s3.PutObject(context.Background(), b.cfg.Blobs.Bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableContentSha256: true})
	require.NoError(b.t, err)
}

// Get reads blob sha.
func (b *Blobs) Get(sha string) []byte {
	b.t.Helper()
	if b.s3 == nil {
		data, err := os.ReadFile(b.path(sha))
		require.NoError(b.t, err)
		return data
	}
	o, err := b.s3.GetObject(context.Background(), b.cfg.Blobs.Bucket, b.key(sha), minio.GetObjectOptions{})
	require.NoError(b.t, err)
	defer o.Close()
	data, err := io.ReadAll(o)
	require.NoError(b.t, err)
	return data
}

// Exists reports whether blob sha is stored.
func (b *Blobs) Exists(sha string) bool {
	b.t.Helper()
	for _, s := range b.Names() {
		if s == sha {
			return true
		}
	}
	return false
}

// Remove deletes blob sha.
func (b *Blobs) Remove(sha string) {
	b.t.Helper()
	if b.s3 == nil {
		require.NoError(b.t, os.Remove(b.path(sha)))
		return
	}
	require.NoError(b.t, b.s3.RemoveObject(context.Background(), b.cfg.Blobs.Bucket, b.key(sha), minio.RemoveObjectOptions{}))
}

// Hide takes blob sha away and returns what puts it back.
func (b *Blobs) Hide(sha string) (restore func()) {
	b.t.Helper()
	data := b.Get(sha)
	b.Remove(sha)
	return func() { b.Put(sha, data) }
}

// Names lists the names of the blobs stored (their SHA-256 in hex).
func (b *Blobs) Names() []string {
	b.t.Helper()
	var names []string
	if b.s3 == nil {
		require.NoError(b.t, filepath.WalkDir(filepath.Join(b.cfg.DataDir, "blobs"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, d.Name())
			}
			return err
		}))
		return names
	}
	for o := range b.s3.ListObjects(context.Background(), b.cfg.Blobs.Bucket, minio.ListObjectsOptions{Prefix: b.cfg.Blobs.Prefix, Recursive: true}) {
		require.NoError(b.t, o.Err)
		names = append(names, o.Key[strings.LastIndex(o.Key, "/")+1:])
	}
	return names
}

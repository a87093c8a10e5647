package blobs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"
)

// s3Stage uploads a spool to a staging object while it is written: each
// whole part of the file goes up as a part of a multipart upload as soon
// as it is on the page cache, four at a time, so that the upload to the
// object store overlaps the receive. The object's name is not the blob's
// (its hash is not known until the end): blob_keys records it when the
// blob is committed.
type s3Stage struct {
	s      *s3Blobs
	ctx    context.Context
	key    string
	upload string
	f      *os.File
	part   int64
	next   int64 // where the next part starts
	sem    chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	parts  []minio.CompletePart
	err    error
	ended  sync.Once
}

// stagingKey names a new staging object.
func (s *s3Blobs) stagingKey() (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return s.prefix + "staged/" + hex.EncodeToString(raw), nil
}

// stage starts a staging upload to key of the spool at path, of size
// bytes.
func (s *s3Blobs) stage(ctx context.Context, key, path string, size int64) (*s3Stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	upload, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		f.Close()
		return nil, objectStoreError("put", err)
	}
	return &s3Stage{s: s, ctx: ctx, key: key, upload: upload, f: f, part: s.partFor(size), sem: make(chan struct{}, 4)}, nil
}

// written says that the spool holds n bytes: its whole parts go up. It
// waits while four parts are on their way, and returns the error of one
// that failed.
func (st *s3Stage) written(n int64) error {
	for n-st.next >= st.part {
		st.send(st.next, st.part)
		st.next += st.part
	}
	return st.failed()
}

func (st *s3Stage) send(off, n int64) {
	num := int(off/st.part) + 1
	st.sem <- struct{}{}
	st.wg.Add(1)
	go func() {
		defer func() { <-st.sem; st.wg.Done() }()
		p, err := st.s.core.PutObjectPart(st.ctx, st.s.bucket, st.key, st.upload, num, io.NewSectionReader(st.f, off, n), n,
			minio.PutObjectPartOptions{DisableContentSha256: true})
		st.mu.Lock()
		defer st.mu.Unlock()
		if err != nil {
			st.err = cmp.Or(st.err, err)
			return
		}
		st.parts = append(st.parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
	}()
}

func (st *s3Stage) failed() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// finish sends the rest of the spool's n bytes and completes the upload;
// it returns the object's key. On failure the upload is aborted.
func (st *s3Stage) finish(n int64) (string, error) {
	if n > st.next {
		st.send(st.next, n-st.next)
	}
	st.wg.Wait()
	if err := st.failed(); err != nil {
		st.abort()
		return "", objectStoreError("put", err)
	}
	slices.SortFunc(st.parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	_, err := st.s.core.CompleteMultipartUpload(st.ctx, st.s.bucket, st.key, st.upload, st.parts, minio.PutObjectOptions{})
	if err != nil {
		st.abort()
		return "", objectStoreError("put", err)
	}
	st.ended.Do(func() { st.f.Close() })
	return st.key, nil
}

// abort ends the upload, none of it visible; a part that stays (the
// store did not answer) is the store's to expire.
func (st *s3Stage) abort() {
	st.ended.Do(func() {
		st.wg.Wait()
		st.f.Close()
		_ = st.s.core.AbortMultipartUpload(context.Background(), st.s.bucket, st.key, st.upload)
	})
}

// NewSpool spools through the page cache: an object store's PUT makes
// the content durable there instead, and the spool is only read back, from
// the cache, and neither written around it nor fsynced. Content of more
// than one part (by its declared size) goes up while it arrives (s3Stage).
func (s *s3Blobs) NewSpool(ctx context.Context, f *os.File, size int64, check func(int64) error) (Spool, error) {
	w := &FileWriter{f: f, check: check}
	if size <= int64(s.part) {
		return s3Spool{FileWriter: w}, nil
	}
	key, err := s.stagingKey()
	if err != nil {
		return nil, err
	}
	st, err := s.stage(ctx, key, f.Name(), size)
	if err != nil {
		return nil, err
	}
	return &stagingSpool{FileWriter: w, st: st}, nil
}

// s3Spool is a spool that Put uploads whole.
type s3Spool struct{ *FileWriter }

func (s3Spool) Key() string        { return "" }
func (s3Spool) Finish(int64) error { return nil }
func (s3Spool) Abort()             {}

// stagingSpool writes to the spool and tells st how much it holds.
type stagingSpool struct {
	*FileWriter
	st *s3Stage
}

func (s *stagingSpool) WritePiece(p []byte, off int64) error {
	if err := s.FileWriter.WritePiece(p, off); err != nil {
		return err
	}
	if err := s.st.written(off + int64(len(p))); err != nil {
		return objectStoreError("put", err)
	}
	return nil
}

func (s *stagingSpool) Key() string { return s.st.key }

func (s *stagingSpool) Finish(n int64) error {
	_, err := s.st.finish(n)
	return err
}

func (s *stagingSpool) Abort() { s.st.abort() }

package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferryhq/ferry"
)

// S3 says where blobs live when they are kept in an S3-compatible bucket
// instead of the data directory (Options.S3). Metadata stays in the
// database file; uploads are still spooled and hashed in the data
// directory first.
type S3 struct {
	Endpoint  string // host or host:port
	Bucket    string
	Prefix    string // put before every object's name
	Region    string
	AccessKey string
	SecretKey string
	TLS       bool
	// PartSize is the size of a multipart upload's parts: larger blobs
	// are uploaded in parts, in parallel; 64 MiB when zero.
	PartSize int64
	// Timeout bounds each wait on the server: a connection, an answer's
	// first byte, and each read or write of a transfer that makes no
	// progress; 5 s when zero.
	Timeout time.Duration
	// OrphanGrace is how old an object no record refers to must be before
	// the sweep removes it or fsck reports it: younger, it may be an upload
	// between its put and its commit (made by another process: in this
	// one, locks keep the sweep from such an upload anyway).
	OrphanGrace time.Duration
}

// s3Blobs keeps blobs as objects named prefix + "xx/<sha256>". Objects are
// written once and never changed: a blob already referred to is not
// uploaded again, and renames and copies of files touch only the
// database.
type s3Blobs struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
	part   uint64
}

// errObjectStore is what a client is told when the object store fails a
// call: nothing of the request was kept.
var errObjectStore = ferry.Errorf(ferry.EUNKNOWN, "The file store did not answer; nothing of this request was kept. Try again later.")

func objectStoreError(op string, err error) error {
	return fmt.Errorf("%w (s3 %s: %w)", errObjectStore, op, err)
}

// newS3Blobs connects to the bucket, creating it if it does not exist;
// it fails when the server does not answer.
func newS3Blobs(ctx context.Context, c S3) (*s3Blobs, error) {
	if c.PartSize == 0 {
		c.PartSize = 64 << 20
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:    c.TLS,
		Region:    c.Region,
		Transport: s3Transport(c.Timeout),
		// Two tries, not minio-go's ten: one more for a connection the
		// server closed while idle, but a server that does not answer is
		// an error within twice the timeout, not after minutes.
		MaxRetries: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	s := &s3Blobs{client: client, core: minio.Core{Client: client}, bucket: c.Bucket, prefix: c.Prefix, part: uint64(c.PartSize)}
	ctx, cancel := context.WithTimeout(ctx, 3*c.Timeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 %s: bucket %s: %w", c.Endpoint, c.Bucket, err)
	}
	if !ok {
		if err := client.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
			return nil, fmt.Errorf("s3 %s: create bucket %s: %w", c.Endpoint, c.Bucket, err)
		}
	}
	return s, nil
}

// s3Transport is an HTTP transport whose every wait is bounded by
// timeout: dialing, the answer's headers, and each read or write on the
// connection (idleConn), so that a server that stops answering fails a
// transfer in that time, however long the transfer.
func s3Transport(timeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: timeout}, nil
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       time.Minute,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// idleConn fails a read or write that makes no progress for idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

func (s *s3Blobs) where() string { return "s3:" + s.bucket + "/" + s.prefix }

func (s *s3Blobs) key(h sum) string { return s.prefix + blobName(h) }

// partFor is the part size for an object of size bytes: part_size, or
// more when that would take more than S3's 10,000 parts.
func (s *s3Blobs) partFor(size int64) int64 {
	const maxParts, mib = 10000, 1 << 20
	return max(int64(s.part), (size/maxParts/mib+1)*mib)
}

// objectKey is where blob b is: its staged key, or its own name.
func (s *s3Blobs) objectKey(b blobRef) string {
	if b.key != "" {
		return b.key
	}
	return s.key(b.sum)
}

// put uploads the spooled file with its size known, in parts above the
// part size, and returns when the server has answered that it stored all
// of it. A failed multipart upload is aborted (minio-go does), so no part
// of it stays visible.
func (s *s3Blobs) put(ctx context.Context, sp spooled) error {
	if !sp.keep {
		defer os.Remove(sp.path)
	}
	f, err := os.Open(sp.path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := s.client.PutObject(ctx, s.bucket, s.key(sp.sum), f, sp.size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    uint64(s.partFor(sp.size)),
		// Streaming signatures (aws-chunked) are not understood by every
		// S3-compatible server; the payload is sent unsigned, over TLS in
		// production, and its hash is checked by fsck.
		DisableContentSha256: true,
	})
	if err != nil {
		return objectStoreError("put", err)
	}
	if info.Size != sp.size {
		return objectStoreError("put", fmt.Errorf("stored %d bytes of %d", info.Size, sp.size))
	}
	return nil
}

func (s *s3Blobs) open(ctx context.Context, b blobRef, size int64) (ferry.Blob, error) {
	return &s3Blob{s: s, ctx: ctx, key: s.objectKey(b), size: size}, nil
}

func (s *s3Blobs) exists(ctx context.Context, b blobRef) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.objectKey(b), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	} else if noSuchObject(err) {
		return false, nil
	}
	return false, objectStoreError("stat", err)
}

func noSuchObject(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound
}

func (s *s3Blobs) remove(ctx context.Context, b blobRef) error {
	return s.removeStray(ctx, s.objectKey(b))
}

func (s *s3Blobs) removeStray(ctx context.Context, name string) error {
	err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && !noSuchObject(err) {
		return objectStoreError("delete", err)
	}
	return nil
}

// each lists the objects under the prefix.
func (s *s3Blobs) each(ctx context.Context, f func(storedBlob) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing when f stops it
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return objectStoreError("list", o.Err)
		}
		b := storedBlob{name: o.Key, modified: o.LastModified}
		b.sum, b.named = parseBlobName(strings.TrimPrefix(o.Key, s.prefix))
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

// presign returns a URL that downloads blob h as an attachment named name
// for the next expiry, without credentials.
func (s *s3Blobs) presign(ctx context.Context, b blobRef, name string, expiry time.Duration) (string, error) {
	params := url.Values{}
	params.Set("response-content-disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	params.Set("response-content-type", "application/octet-stream")
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.objectKey(b), expiry, params)
	if err != nil {
		return "", objectStoreError("presign", err)
	}
	return u.String(), nil
}

// s3Blob reads an object with one ranged GET from where a Read starts,
// opened at the first Read: a Seek costs nothing until then, and a read
// that goes on from where the last one ended reuses the open answer. The
// object's first bytes are kept as they are read, so that ServeContent's
// look at them to guess a type, and its seek back, cost no second GET.
type s3Blob struct {
	s       *s3Blobs
	ctx     context.Context
	key     string
	size    int64
	off     int64         // where the next Read reads
	body    io.ReadCloser // an open GET, at bodyOff
	bodyOff int64
	head    []byte // the object's bytes [0, len(head)), as first read
}

const s3HeadKeep = 512 // what net/http's content sniffing reads

func (b *s3Blob) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.off < int64(len(b.head)) {
		n := copy(p, b.head[b.off:])
		b.off += int64(n)
		return n, nil
	}
	if b.body == nil || b.bodyOff != b.off {
		if err := b.get(); err != nil {
			return 0, err
		}
	}
	n, err := b.body.Read(p)
	if b.off == int64(len(b.head)) && b.off < s3HeadKeep {
		b.head = append(b.head, p[:min(n, s3HeadKeep-len(b.head))]...)
	}
	b.off += int64(n)
	b.bodyOff = b.off
	if errors.Is(err, io.EOF) && b.off < b.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.closeBody()
		return n, objectStoreError("get", err)
	}
	return n, err
}

// get starts a GET of the object from off to its end.
func (b *s3Blob) get() error {
	b.closeBody()
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(b.off, b.size-1); err != nil {
		return err
	}
	body, _, _, err := b.s.core.GetObject(b.ctx, b.s.bucket, b.key, opts)
	if err != nil {
		return objectStoreError("get", err)
	}
	b.body, b.bodyOff = body, b.off
	return nil
}

func (b *s3Blob) closeBody() {
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
}

func (b *s3Blob) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start of a blob")
	}
	b.off = offset
	return offset, nil
}

func (b *s3Blob) Close() error {
	b.closeBody()
	return nil
}

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

// stagingSink writes to the spool and tells st how much it holds.
type stagingSink struct {
	*fileSink
	st *s3Stage
}

func (s *stagingSink) put(p []byte, off int64) error {
	if err := s.fileSink.put(p, off); err != nil {
		return err
	}
	if err := s.st.written(off + int64(len(p))); err != nil {
		return objectStoreError("put", err)
	}
	return nil
}

package blobs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferryhq/ferry"
)

// S3 says where blobs live when they are kept in an S3-compatible bucket
// instead of the data directory. Metadata stays in the
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

// NewS3 connects to the bucket, creating it if it does not exist; it
// fails when the server does not answer.
func NewS3(ctx context.Context, c S3) (Store, error) {
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

func (s *s3Blobs) Where() string { return "s3:" + s.bucket + "/" + s.prefix }

func (s *s3Blobs) Local() bool { return false }

// Prepare has nothing to make: the bucket is there since NewS3.
func (s *s3Blobs) Prepare() error { return nil }

func (s *s3Blobs) key(h Sum) string { return s.prefix + NameOf(h) }

// partFor is the part size for an object of size bytes: part_size, or
// more when that would take more than S3's 10,000 parts.
func (s *s3Blobs) partFor(size int64) int64 {
	const maxParts, mib = 10000, 1 << 20
	return max(int64(s.part), (size/maxParts/mib+1)*mib)
}

// Name is where blob b is: its staged key, or its own name.
func (s *s3Blobs) Name(b Ref) string {
	if b.Key != "" {
		return b.Key
	}
	return s.key(b.Sum)
}

// Put uploads the spooled file with its size known, in parts above the
// part size, and returns when the server has answered that it stored all
// of it. A failed multipart upload is aborted (minio-go does), so no part
// of it stays visible.
func (s *s3Blobs) Put(ctx context.Context, sp Spooled) error {
	if !sp.Keep {
		defer os.Remove(sp.Path)
	}
	f, err := os.Open(sp.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := s.client.PutObject(ctx, s.bucket, s.key(sp.Sum), f, sp.Size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    uint64(s.partFor(sp.Size)),
		// Streaming signatures (aws-chunked) are not understood by every
		// S3-compatible server; the payload is sent unsigned, over TLS in
		// production, and its hash is checked by fsck.
		DisableContentSha256: true,
	})
	if err != nil {
		return objectStoreError("put", err)
	}
	if info.Size != sp.Size {
		return objectStoreError("put", fmt.Errorf("stored %d bytes of %d", info.Size, sp.Size))
	}
	return nil
}

func (s *s3Blobs) Open(ctx context.Context, b Ref, size int64) (ferry.Blob, error) {
	return &s3Blob{s: s, ctx: ctx, key: s.Name(b), size: size}, nil
}

func (s *s3Blobs) Exists(ctx context.Context, b Ref) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.Name(b), minio.StatObjectOptions{})
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

// CopyIn copies in the bucket: one request up to 5 GiB, parts beyond.
func (s *s3Blobs) CopyIn(ctx context.Context, from string, to Ref) error {
	src := minio.CopySrcOptions{Bucket: s.bucket, Object: from}
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: s.Name(to)}
	info, err := s.client.StatObject(ctx, s.bucket, from, minio.StatObjectOptions{})
	if noSuchObject(err) {
		return ErrNoObject
	} else if err != nil {
		return objectStoreError("stat", err)
	}
	if info.Size <= 5<<30 {
		_, err = s.client.CopyObject(ctx, dst, src)
	} else {
		_, err = s.client.ComposeObject(ctx, dst, src)
	}
	if err != nil {
		return objectStoreError("copy", err)
	}
	return nil
}

func (s *s3Blobs) Remove(ctx context.Context, b Ref) error {
	return s.RemoveStray(ctx, s.Name(b))
}

func (s *s3Blobs) RemoveStray(ctx context.Context, name string) error {
	err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && !noSuchObject(err) {
		return objectStoreError("delete", err)
	}
	return nil
}

// Each lists the objects under the prefix.
func (s *s3Blobs) Each(ctx context.Context, f func(Stored) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing when f stops it
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return objectStoreError("list", o.Err)
		}
		b := Stored{Name: o.Key, Modified: o.LastModified}
		b.Sum, b.Named = ParseName(strings.TrimPrefix(o.Key, s.prefix))
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

// URL presigns a GET of blob b as an attachment named name.
func (s *s3Blobs) URL(ctx context.Context, b Ref, name string, expiry time.Duration) (string, error) {
	params := url.Values{}
	params.Set("response-content-disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	params.Set("response-content-type", "application/octet-stream")
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.Name(b), expiry, params)
	if err != nil {
		return "", objectStoreError("presign", err)
	}
	return u.String(), nil
}

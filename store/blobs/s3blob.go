package blobs

import (
	"context"
	"errors"
	"io"

	"github.com/minio/minio-go/v7"
)

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

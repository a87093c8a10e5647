package main

import (
	"context"
	"io"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferryhq/ferry/ferrytest"
)

// s3Rows runs rows 14 and 15: a file of -size bytes through PUT and GET
// /files of a second ferry whose blobs are in S3, against the S3 server's
// own throughput for the same object measured with minio-go directly (the
// client ferry uses, with ferry's settings: unsigned payload, 64 MiB parts
// four at a time). The server is OpenStack Swift's s3api on loopback, its
// data in the work directory (on disk), started here.
func (b *bench) s3Rows() []result {
	swiftDir := filepath.Join(b.dir, "swift")
	check(os.MkdirAll(swiftDir, 0o700))
	log.Printf("rows 14-15: starting OpenStack Swift in %s", swiftDir)
	s3, err := ferrytest.StartSwift(swiftDir)
	check(err)
	defer s3.Close()

	fb := &bench{dir: filepath.Join(b.dir, "s3ferry"), size: b.size, bin: b.bin}
	check(os.MkdirAll(fb.dir, 0o700))
	fb.start(s3.TOML())
	defer fb.stop()
	u := fb.addUsers("s3", 1)[0]

	src := filepath.Join(b.dir, "s3src.bin")
	log.Printf("rows 14-15: writing %d bytes of test data", b.size)
	randomFile(src, b.size)
	defer os.Remove(src)

	ctx := context.Background()
	mc, err := s3.NewClient()
	check(err)
	const bucket, key = "bench-direct", "src.bin"
	if ok, err := mc.BucketExists(ctx, bucket); err == nil && !ok {
		check(mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}))
	}
	directPut := func() error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = mc.PutObject(ctx, bucket, key, f, b.size, minio.PutObjectOptions{
			ContentType: "application/octet-stream", PartSize: 64 << 20, DisableContentSha256: true})
		return err
	}
	directGet := func() error {
		opts := minio.GetObjectOptions{}
		body, _, _, err := minio.Core{Client: mc}.GetObject(ctx, bucket, key, opts)
		if err != nil {
			return err
		}
		defer body.Close()
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, body, make([]byte, 1<<20))
		if err == nil && n != b.size {
			err = errShort
		}
		return err
	}
	fileURL := fb.base + "/files?path=big.bin"
	ferryPut := fb.putFile(src, fileURL, u.token)
	ferryGet := fb.download(fileURL, u.token)
	rate := func(d time.Duration) float64 { return float64(b.size) / d.Seconds() / (1 << 20) }
	// Best of three, alternating. Each PUT stores the content anew: the
	// object (ferry's, through a delete of the file; the direct one, by
	// its own delete) is gone before the next, so that neither is a
	// dedup or an overwrite.
	// Ferry's CPU is measured; the reference's server side is Swift's
	// processes, whose CPU is not.
	pid := fb.cmd.Process.Pid
	var refPut float64
	var put transfer
	for range 3 {
		syscall.Sync()
		refPut = max(refPut, rate(timed(directPut)))
		check(mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
		syscall.Sync()
		put.best(fb.measure(pid, ferryPut))
		u.must(u.post("/ops/delete", url.Values{"file[]": {"big.bin"}}, nil))
	}
	check(directPut())
	check(ferryPut())
	var refGet float64
	var get transfer
	for range 3 {
		refGet = max(refGet, rate(timed(directGet)))
		get.best(fb.measure(pid, ferryGet))
	}
	return []result{
		{Row: 14, Figure: "PUT /files of " + *flagSize + ", blobs in S3", Value: put.rate, Reference: refPut, Unit: "MiB/s",
			Ratio: put.rate / refPut, Target: ">= 0.80 of minio-go's PUT", Pass: put.rate/refPut >= 0.80, CPU: put.cpu},
		{Row: 15, Figure: "GET /files of " + *flagSize + ", blobs in S3", Value: get.rate, Reference: refGet, Unit: "MiB/s",
			Ratio: get.rate / refGet, Target: ">= 0.80 of minio-go's GET", Pass: get.rate/refGet >= 0.80, CPU: get.cpu},
	}
}

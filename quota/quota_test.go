package quota_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1048576},
		{"10MB", 10_000_000},
		{"10mb", 10_000_000},
		{"5GiB", 5 << 30},
		{"5 GiB", 5 << 30},
		{"1.5KB", 1500},
		{"1.5 MiB", 1572864},
		{"7B", 7},
		{"2TB", 2_000_000_000_000},
		{" 3kib ", 3072},
	} {
		got, err := quota.ParseSize(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "MB", "-1", "10XB", "1..5MB", "99999999999999999999", "9000000TiB", "ten"} {
		_, err := quota.ParseSize(bad)
		assert.Error(t, err, bad)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1 KB", 1_500_000: "1.5 MB",
		5_000_000_000: "5 GB", 1_999_999: "1.9 MB", 3_000_000_000_000_000: "3000 TB",
	} {
		assert.Equal(t, want, quota.FormatSize(n))
	}
}

func TestPackagesFor(t *testing.T) {
	p := quota.Packages{Default: "free", ByName: map[string]quota.Limits{
		"free": {Storage: 100, ReceivePerMonth: 200},
		"pro":  {Storage: 1000, ReceivePerMonth: 0},
	}}
	assert.Equal(t, quota.Limits{Storage: 1000}, p.For(&ferry.User{Package: "pro"}))
	assert.Equal(t, quota.Limits{Storage: 100, ReceivePerMonth: 200}, p.For(&ferry.User{Package: "gone"}),
		"a package removed from the config falls back to the default")
	zero, five := int64(0), int64(5)
	assert.Equal(t, quota.Limits{Storage: 0, ReceivePerMonth: 5},
		p.For(&ferry.User{Package: "free", StorageOverride: &zero, ReceiveOverride: &five}))
}

func TestReceivedThisMonth(t *testing.T) {
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	u := ferry.Usage{Received: 42, ReceivedSince: since}
	assert.Equal(t, int64(42), quota.ReceivedThisMonth(u, since))
	assert.Equal(t, int64(42), quota.ReceivedThisMonth(u, time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)))
	assert.Equal(t, int64(0), quota.ReceivedThisMonth(u, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)))
	// 00:30 on the 1st in UTC+1 is still the previous month in UTC.
	cet := time.FixedZone("CET", 3600)
	assert.Equal(t, int64(42), quota.ReceivedThisMonth(u, time.Date(2026, 12, 1, 0, 30, 0, 0, cet)))
	assert.Equal(t, since, quota.MonthStart(time.Date(2026, 11, 17, 5, 0, 0, 0, time.UTC)))
}

func TestChecks(t *testing.T) {
	l := quota.Limits{Storage: 100, ReceivePerMonth: 50}
	assert.NoError(t, l.CheckStorage(ferry.Usage{Normal: 60}, 40))
	assert.Equal(t, ferry.EQUOTAEXCEEDED, ferry.ErrorCode(l.CheckStorage(ferry.Usage{Normal: 60}, 41)))
	assert.Equal(t, ferry.EQUOTAEXCEEDED, ferry.ErrorCode(l.CheckStorage(ferry.Usage{Normal: 20, Reserved: 20, Held: 20}, 41)),
		"uploads in progress and held content count")
	assert.NoError(t, l.CheckStorage(ferry.Usage{Normal: 500}, -1), "freeing space always passes")
	assert.NoError(t, quota.Limits{}.CheckStorage(ferry.Usage{Normal: 1 << 60}, 1<<60), "0 is unlimited")

	nov := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	u := quota.AddReceived(ferry.Usage{}, nov, 30)
	assert.Equal(t, ferry.Usage{Received: 30, ReceivedSince: quota.MonthStart(nov)}, u)
	assert.NoError(t, l.CheckReceive(u, nov, 20))
	assert.Equal(t, ferry.EQUOTAEXCEEDED, ferry.ErrorCode(l.CheckReceive(u, nov, 21)))
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	assert.NoError(t, l.CheckReceive(u, dec, 50), "a new month starts from zero")
	u = quota.AddReceived(u, dec, 5)
	assert.Equal(t, ferry.Usage{Received: 5, ReceivedSince: dec}, u)
}

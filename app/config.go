package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/quota"
	"github.com/ferryhq/ferry/scan"
	"github.com/ferryhq/ferry/store"
)

// Config is ferry's configuration: the TOML file, or Default without one.
// config.example.toml at the repository root documents every key; a test
// proves that it parses to Default.
type Config struct {
	Listen          string   `toml:"listen"`
	PublicURL       string   `toml:"public_url"`
	DataDir         string   `toml:"data_dir"`
	DefaultPackage  string   `toml:"default_package"`
	MaxRequestBody  Size     `toml:"max_request_body"`
	MaxFileSize     Size     `toml:"max_file_size"`
	MinFreeSpace    Size     `toml:"min_free_space"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	BodyIdleTimeout Duration `toml:"body_idle_timeout"`
	TrustedProxies  []string `toml:"trusted_proxies"`
	// MetricsListen, when set, is an address that serves GET /metrics
	// alone, without the token.
	MetricsListen string `toml:"metrics_listen"`

	Log struct {
		Level  string `toml:"level"`
		Format string `toml:"format"`
	} `toml:"log"`

	Auth struct {
		Signup             string   `toml:"signup"`
		TokenIdleTimeout   Duration `toml:"token_idle_timeout"`
		LoginFailureBurst  int      `toml:"login_failure_burst"`
		LoginFailureRefill Duration `toml:"login_failure_refill"`
		// Require2FA refuses an account everything but setting up
		// two-factor sign-in until it has.
		Require2FA bool `toml:"require_2fa"`
	} `toml:"auth"`

	SMTP struct {
		Host         string   `toml:"host"`
		Port         int      `toml:"port"`
		TLS          string   `toml:"tls"`
		Username     string   `toml:"username"`
		Password     string   `toml:"password"`
		PasswordFile string   `toml:"password_file"`
		From         string   `toml:"from"`
		FromName     string   `toml:"from_name"`
		Timeout      Duration `toml:"timeout"`
		RetryInitial Duration `toml:"retry_initial"`
		RetryMax     Duration `toml:"retry_max"`
		MaxAttempts  int      `toml:"max_attempts"`
		KeepSent     Duration `toml:"keep_sent"`
	} `toml:"smtp"`

	Invite struct {
		PerDay      int      `toml:"per_day"`
		ExpireAfter Duration `toml:"expire_after"`
	} `toml:"invite"`

	Send struct {
		ExpireAfter Duration `toml:"expire_after"`
		KeepHistory Duration `toml:"keep_history"`
		MaxEntries  int      `toml:"max_entries"`
		MaxFiles    int      `toml:"max_files"`
		MaxPending  int      `toml:"max_pending"`
	} `toml:"send"`

	Uploads struct {
		IdleTimeout Duration `toml:"idle_timeout"`
		Checkpoint  Size     `toml:"checkpoint"`
	} `toml:"uploads"`

	Audit struct {
		// Keep is how long an event of the audit log is kept.
		Keep Duration `toml:"keep"`
	} `toml:"audit"`

	OIDC struct {
		// Issuer is the provider's issuer URL ("": no sign-in through a
		// provider); discovery is at /.well-known/openid-configuration.
		Issuer           string `toml:"issuer"`
		ClientID         string `toml:"client_id"`
		ClientSecret     string `toml:"client_secret"`
		ClientSecretFile string `toml:"client_secret_file"`
		// Name is the sign-in button's text.
		Name string `toml:"name"`
		// AutoCreate makes an account at a first sign-in (the provider
		// must have verified the email).
		AutoCreate bool `toml:"auto_create"`
		// PackageClaim names a claim whose first value that names a
		// [packages.NAME] sets the package.
		PackageClaim string `toml:"package_claim"`
	} `toml:"oidc"`

	Web struct {
		UploadRequestMax Size `toml:"upload_request_max"`
	} `toml:"web"`

	Links struct {
		DefaultExpiry Duration `toml:"default_expiry"`
		MaxExpiry     Duration `toml:"max_expiry"`
	} `toml:"links"`

	Metrics struct {
		Token     string `toml:"token"`
		TokenFile string `toml:"token_file"`
	} `toml:"metrics"`

	// Blobs says where file contents live: in the data directory, or in
	// an S3-compatible bucket.
	Blobs struct {
		Backend       string   `toml:"backend"`
		Endpoint      string   `toml:"endpoint"`
		Bucket        string   `toml:"bucket"`
		Prefix        string   `toml:"prefix"`
		Region        string   `toml:"region"`
		AccessKey     string   `toml:"access_key"`
		AccessKeyFile string   `toml:"access_key_file"`
		SecretKey     string   `toml:"secret_key"`
		SecretKeyFile string   `toml:"secret_key_file"`
		TLS           bool     `toml:"tls"`
		PartSize      Size     `toml:"part_size"`
		Timeout       Duration `toml:"timeout"`
		OrphanGrace   Duration `toml:"orphan_grace"`
		Redirect      bool     `toml:"redirect"`
	} `toml:"blobs"`

	Slice struct {
		Tracker string `toml:"tracker"`
	} `toml:"slice"`

	// Requests bounds what people without an account do to file
	// requests; 0 is no limit.
	Requests struct {
		AddressDeliveriesPerHour int  `toml:"address_deliveries_per_hour"`
		AddressBytesPerDay       Size `toml:"address_bytes_per_day"`
		RequestDeliveriesPerHour int  `toml:"request_deliveries_per_hour"`
		RequestBytesPerDay       Size `toml:"request_bytes_per_day"`
	} `toml:"requests"`

	// Cluster runs this node as one of several (docs/cluster.md); off
	// when node is empty.
	Cluster struct {
		Node       string   `toml:"node"`
		Addr       string   `toml:"addr"`
		Advertise  string   `toml:"advertise"`
		Etcd       []string `toml:"etcd"`
		Secret     string   `toml:"secret"`
		SecretFile string   `toml:"secret_file"`
	} `toml:"cluster"`

	// Scan is virus scanning with ClamAV's daemon.
	Scan struct {
		Clamd   string   `toml:"clamd"`
		What    string   `toml:"what"`
		OnError string   `toml:"on_error"`
		Timeout Duration `toml:"timeout"`
	} `toml:"scan"`

	Packages map[string]Package `toml:"packages"`
}

// Package is a named set of quotas, `[packages.NAME]`.
type Package struct {
	Storage         Size `toml:"storage"`
	ReceivePerMonth Size `toml:"receive_per_month"`
}

// Default returns the configuration ferry runs on without a config file.
func Default() Config {
	var c Config
	c.Listen = "127.0.0.1:8080"
	c.PublicURL = "http://127.0.0.1:8080"
	c.DataDir = "./ferry-data"
	c.DefaultPackage = "free"
	c.MaxRequestBody = 16 << 20
	c.MinFreeSpace = 64 << 20
	c.TrustedProxies = []string{}
	c.ShutdownTimeout = Duration(30 * time.Second)
	c.BodyIdleTimeout = Duration(time.Minute)
	c.Log.Level = "info"
	c.Log.Format = "text"
	c.Auth.Signup = "closed"
	c.Audit.Keep = Duration(8760 * time.Hour)
	c.OIDC.Name = "Single sign-on"
	c.OIDC.AutoCreate = true
	c.Auth.TokenIdleTimeout = Duration(15 * time.Minute)
	c.Auth.LoginFailureBurst = 10
	c.Auth.LoginFailureRefill = Duration(time.Minute)
	c.SMTP.Port = 25
	c.SMTP.TLS = "starttls"
	c.SMTP.From = "ferry@localhost"
	c.SMTP.FromName = "ferry"
	c.SMTP.Timeout = Duration(30 * time.Second)
	c.SMTP.RetryInitial = Duration(30 * time.Second)
	c.SMTP.RetryMax = Duration(time.Hour)
	c.SMTP.MaxAttempts = 50
	c.SMTP.KeepSent = Duration(30 * 24 * time.Hour)
	c.Invite.PerDay = 20
	c.Invite.ExpireAfter = Duration(7 * 24 * time.Hour)
	c.Send.ExpireAfter = Duration(720 * time.Hour)
	c.Send.MaxEntries = 100
	c.Send.KeepHistory = Duration(90 * 24 * time.Hour)
	c.Send.MaxFiles = 10000
	c.Send.MaxPending = 1000
	c.Uploads.IdleTimeout = Duration(15 * time.Minute)
	c.Uploads.Checkpoint = store.DefaultUploadCheckpoint
	c.Links.DefaultExpiry = Duration(24 * time.Hour)
	c.Links.MaxExpiry = Duration(30 * 24 * time.Hour)
	c.Blobs.Backend = "local"
	c.Blobs.Region = "us-east-1"
	c.Blobs.TLS = true
	c.Blobs.PartSize = 64 << 20
	c.Blobs.Timeout = Duration(5 * time.Second)
	c.Blobs.OrphanGrace = Duration(time.Hour)
	c.Packages = map[string]Package{"free": {Storage: 5e9, ReceivePerMonth: 10e9}}
	d := front.DefaultOutsiderLimits
	c.Requests.AddressDeliveriesPerHour, c.Requests.AddressBytesPerDay = d.AddressDeliveriesPerHour, Size(d.AddressBytesPerDay)
	c.Requests.RequestDeliveriesPerHour, c.Requests.RequestBytesPerDay = d.RequestDeliveriesPerHour, Size(d.RequestBytesPerDay)
	c.Cluster.Etcd = []string{}
	c.Scan.What = "outsiders"
	c.Scan.OnError = "hold"
	c.Scan.Timeout = Duration(time.Minute)
	return c
}

// LoadConfig reads the TOML file at path over Default and validates the
// result; an empty path gives Default. Keys left out keep their defaults,
// except that a file with any [packages.NAME] section replaces the default
// packages. An unknown key or a bad value is an error that names the key.
func LoadConfig(path string) (Config, error) {
	c := Default()
	if path == "" {
		if err := c.fromEnv(false); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	c.Packages = nil
	md, err := toml.Decode(string(text), &c)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	if c.Packages == nil {
		c.Packages = Default().Packages
	}
	if !md.IsDefined("public_url") && md.IsDefined("listen") {
		c.PublicURL = ""
	}
	if err := c.fromEnv(md.IsDefined("public_url")); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// fromEnv applies the environment over the file, then reads the secrets
// kept in files. As in the file, a listen address without a public_url
// (neither the file's, publicSet, nor the environment's) makes public_url
// follow it.
func (c *Config) fromEnv(publicSet bool) error {
	if err := applyEnv(c, os.Environ()); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	_, listen := os.LookupEnv(envPrefix + "LISTEN")
	_, public := os.LookupEnv(envPrefix + "PUBLIC_URL")
	if listen && !public && !publicSet {
		c.PublicURL = ""
	}
	return c.readSecretFiles()
}

// Validate checks every value and fills in what derives from others: an
// empty public_url becomes http://{listen}. The error names the key.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("public_url: %q is not an http or https URL", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if c.MaxRequestBody < 4096 {
		return errors.New("max_request_body: must be at least 4KiB")
	}
	if _, err := c.proxyPrefixes(); err != nil {
		return err
	}
	if c.BodyIdleTimeout < Duration(time.Second) {
		return errors.New("body_idle_timeout: must be at least 1s")
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("shutdown_timeout: must be positive")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		return fmt.Errorf("log.level: must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format: must be text or json, not %q", c.Log.Format)
	}
	if !slices.Contains([]string{"closed", "invite", "open"}, c.Auth.Signup) {
		return fmt.Errorf("auth.signup: must be closed, invite or open, not %q", c.Auth.Signup)
	}
	if c.Auth.TokenIdleTimeout < Duration(time.Second) {
		return errors.New("auth.token_idle_timeout: must be at least 1s")
	}
	if c.Auth.LoginFailureBurst < 1 {
		return errors.New("auth.login_failure_burst: must be at least 1")
	}
	if c.Auth.LoginFailureRefill <= 0 {
		return errors.New("auth.login_failure_refill: must be positive")
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		return fmt.Errorf("smtp.port: %d is not a port", c.SMTP.Port)
	}
	if !slices.Contains([]string{"none", "starttls", "tls"}, c.SMTP.TLS) {
		return fmt.Errorf("smtp.tls: must be none, starttls or tls, not %q", c.SMTP.TLS)
	}
	if _, err := ferry.NormalizeEmail(c.SMTP.From); err != nil {
		return fmt.Errorf("smtp.from: %q is not an email address", c.SMTP.From)
	}
	if c.SMTP.Timeout < Duration(time.Second) {
		return errors.New("smtp.timeout: must be at least 1s")
	}
	if c.SMTP.RetryInitial <= 0 || c.SMTP.RetryMax < c.SMTP.RetryInitial {
		return errors.New("smtp.retry_initial, smtp.retry_max: must be positive, retry_max at least retry_initial")
	}
	if c.SMTP.MaxAttempts < 1 {
		return errors.New("smtp.max_attempts: must be at least 1")
	}
	if c.Send.KeepHistory < 0 {
		return errors.New("send.keep_history: must not be negative (0 keeps history for ever)")
	}
	if c.SMTP.KeepSent < Duration(time.Minute) {
		return errors.New("smtp.keep_sent: must be at least 1m")
	}
	if c.Invite.PerDay < 0 {
		return errors.New("invite.per_day: must not be negative")
	}
	if c.Invite.ExpireAfter < Duration(time.Minute) {
		return errors.New("invite.expire_after: must be at least 1m")
	}
	if c.Send.ExpireAfter <= 0 {
		return errors.New("send.expire_after: must be positive")
	}
	for key, v := range map[string]int{"send.max_entries": c.Send.MaxEntries, "send.max_files": c.Send.MaxFiles, "send.max_pending": c.Send.MaxPending} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative", key)
		}
	}
	if c.Uploads.IdleTimeout < Duration(time.Second) {
		return errors.New("uploads.idle_timeout: must be at least 1s")
	}
	if c.Uploads.Checkpoint < 1<<20 || c.Uploads.Checkpoint > 256<<20 {
		return errors.New("uploads.checkpoint: must be from 1MiB to 256MiB")
	}
	if c.Web.UploadRequestMax != 0 && c.Web.UploadRequestMax < 1<<20 {
		return errors.New("web.upload_request_max: must be 0 (no limit) or at least 1MiB")
	}
	if c.Links.MaxExpiry < Duration(time.Second) {
		return errors.New("links.max_expiry: must be at least 1s")
	}
	if c.Links.DefaultExpiry < Duration(time.Second) || c.Links.DefaultExpiry > c.Links.MaxExpiry {
		return errors.New("links.default_expiry: must be from 1s to links.max_expiry")
	}
	if err := c.validateBlobs(); err != nil {
		return err
	}
	if c.Audit.Keep < Duration(time.Hour) {
		return errors.New("audit.keep: must be at least 1h")
	}
	if err := c.validateScan(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	for key, n := range map[string]int64{"requests.address_deliveries_per_hour": int64(c.Requests.AddressDeliveriesPerHour),
		"requests.request_deliveries_per_hour": int64(c.Requests.RequestDeliveriesPerHour),
		"requests.address_bytes_per_day":       int64(c.Requests.AddressBytesPerDay), "requests.request_bytes_per_day": int64(c.Requests.RequestBytesPerDay)} {
		if n < 0 {
			return fmt.Errorf("%s: must not be negative (0: no limit)", key)
		}
	}
	if c.OIDC.Issuer != "" {
		if u, err := url.Parse(c.OIDC.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("oidc.issuer: %q is not an http or https URL", c.OIDC.Issuer)
		}
		if c.OIDC.ClientID == "" {
			return errors.New("oidc.client_id: must be set with oidc.issuer")
		}
		if strings.TrimSpace(c.OIDC.Name) == "" {
			return errors.New("oidc.name: must not be empty (it is the sign-in button's text)")
		}
	}
	if len(c.Packages) == 0 {
		return errors.New("packages: at least one [packages.NAME] section is needed")
	}
	if _, ok := c.Packages[c.DefaultPackage]; !ok {
		return fmt.Errorf("default_package: no [packages.%s] section", c.DefaultPackage)
	}
	return nil
}

func (c *Config) validateScan() error {
	if c.Scan.Clamd != "" {
		if _, err := scan.Parse(c.Scan.Clamd); err != nil {
			return fmt.Errorf("scan.clamd: %w", err)
		}
	}
	if c.Scan.What != "outsiders" && c.Scan.What != "all" {
		return fmt.Errorf("scan.what: %q is not \"outsiders\" or \"all\"", c.Scan.What)
	}
	if c.Scan.OnError != "hold" && c.Scan.OnError != "reject" {
		return fmt.Errorf("scan.on_error: %q is not \"hold\" or \"reject\"", c.Scan.OnError)
	}
	if c.Scan.Timeout < Duration(time.Second) {
		return errors.New("scan.timeout: must be at least 1s")
	}
	return nil
}

func (c *Config) validateBlobs() error {
	b := &c.Blobs
	switch b.Backend {
	case "local":
		return nil
	case "s3":
	default:
		return fmt.Errorf("blobs.backend: must be local or s3, not %q", b.Backend)
	}
	if b.Endpoint == "" || strings.Contains(b.Endpoint, "/") {
		return fmt.Errorf("blobs.endpoint: must be a host or host:port, without a scheme (blobs.tls chooses https), not %q", b.Endpoint)
	}
	if b.Bucket == "" {
		return errors.New("blobs.bucket: must be set for the s3 backend")
	}
	if b.AccessKey == "" || b.SecretKey == "" {
		return errors.New("blobs.access_key, blobs.secret_key: must be set for the s3 backend (or their _file twins)")
	}
	if b.PartSize < 5<<20 || b.PartSize > 5<<30 {
		return errors.New("blobs.part_size: must be from 5MiB to 5GiB, as S3 allows")
	}
	if b.Timeout < Duration(time.Second) {
		return errors.New("blobs.timeout: must be at least 1s")
	}
	if b.OrphanGrace < 0 {
		return errors.New("blobs.orphan_grace: must not be negative")
	}
	return nil
}

// StoreS3 is where the store keeps blobs under blobs.backend = "s3"; nil
// for the data directory.
func (c *Config) StoreS3() *store.S3 {
	b := c.Blobs
	if b.Backend != "s3" {
		return nil
	}
	if c.Cluster.Node != "" {
		// Each node's objects under a prefix of its own, so that its
		// orphan sweep reasons only about them.
		if b.Prefix != "" && !strings.HasSuffix(b.Prefix, "/") {
			b.Prefix += "/"
		}
		b.Prefix += c.Cluster.Node + "/"
	}
	return &store.S3{
		Endpoint: b.Endpoint, Bucket: b.Bucket, Prefix: b.Prefix, Region: b.Region,
		AccessKey: b.AccessKey, SecretKey: b.SecretKey, TLS: b.TLS,
		PartSize: int64(b.PartSize), Timeout: time.Duration(b.Timeout),
		OrphanGrace: time.Duration(b.OrphanGrace),
	}
}

// QuotaPackages returns the packages as the quota policy takes them.
func (c *Config) QuotaPackages() quota.Packages {
	p := quota.Packages{Default: c.DefaultPackage, ByName: make(map[string]quota.Limits, len(c.Packages))}
	for name, pkg := range c.Packages {
		p.ByName[name] = quota.Limits{Storage: int64(pkg.Storage), ReceivePerMonth: int64(pkg.ReceivePerMonth)}
	}
	return p
}

// Size is a number of bytes, written in TOML as an integer or as a string
// with a unit ("10MB", "5GiB"); see quota.ParseSize.
type Size int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := quota.ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) {
	return []byte(fmt.Sprint(int64(s))), nil
}

// Duration is a time.Duration written as a Go duration string ("15m", "720h").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit such as 90s, 15m or 720h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// proxyPrefixes parses trusted_proxies: addresses ("10.0.0.1") or
// networks ("10.0.0.0/8").
func (c *Config) proxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			return nil, fmt.Errorf("trusted_proxies: %q is not an address or a network", v)
		}
	}
	return out, nil
}

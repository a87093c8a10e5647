package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// The example documents every key with its default: it must parse, and to
// exactly what ferry runs on without a file.
func TestConfig_ExampleIsTheDefault(t *testing.T) {
	got, err := app.LoadConfig("../config.example.toml")
	require.NoError(t, err)
	want := app.Default()
	require.NoError(t, want.Validate())
	assert.Equal(t, want, got)
	assert.Equal(t, "127.0.0.1:8080", want.Listen)
	assert.Equal(t, "./ferry-data", want.DataDir)
}

// Every key ferry knows appears in the example, so none goes undocumented.
func TestConfig_ExampleHasEveryKey(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, toml.NewEncoder(&buf).Encode(app.Default()))
	var all, documented map[string]any
	md, err := toml.Decode(buf.String(), &all)
	require.NoError(t, err)
	example, err := toml.DecodeFile("../config.example.toml", &documented)
	require.NoError(t, err)
	for _, key := range md.Keys() {
		assert.True(t, example.IsDefined(key...), "config.example.toml does not document %s", key)
	}
}

func TestConfig_NoFileIsTheDefault(t *testing.T) {
	got, err := app.LoadConfig("")
	require.NoError(t, err)
	assert.Equal(t, app.Default(), got)
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestConfig_ErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{"lisen = \"1.2.3.4:5\"", "lisen"},
		{"[smtp]\nhots = \"x\"", "smtp.hots"},
		{"[auth]\nsignup = \"sometimes\"", "auth.signup"},
		{"[auth]\ntoken_idle_timeout = \"soon\"", "auth.token_idle_timeout"},
		{"[auth]\ntoken_idle_timeout = \"0s\"", "auth.token_idle_timeout"},
		{"[smtp]\nport = 70000", "smtp.port"},
		{"[smtp]\nport = \"25\"", "smtp.port"},
		{"[smtp]\ntls = \"ssl\"", "smtp.tls"},
		{"[smtp]\nfrom = \"not an address\"", "smtp.from"},
		{"[send]\nexpire_after = \"-1h\"", "send.expire_after"},
		{"listen = \"8080\"", "listen"},
		{"public_url = \"ftp://x\"", "public_url"},
		{"default_package = \"gold\"", "default_package"},
		{"[packages.pro]\nstorage = \"lots\"", "packages.pro.storage"},
		{"[packages.pro]\nstorage = \"1GB\"\nsize = 3", "packages.pro.size"},
		{"max_request_body = \"1KB\"", "max_request_body"},
		{"[log]\nlevel = \"loud\"", "log.level"},
		{"trusted_proxies = [\"10.0.0.0/8\", \"proxy.example\"]", "trusted_proxies"},
		{"min_free_space = \"plenty\"", "min_free_space"},
		{"[smtp]\nkeep_sent = \"30s\"", "smtp.keep_sent"},
		{"[uploads]\ncheckpoint = \"512KiB\"", "uploads.checkpoint"},
		{"[uploads]\ncheckpoint = \"1GiB\"", "uploads.checkpoint"},
		{"[web]\nupload_request_max = \"100KB\"", "web.upload_request_max"},
		{"[blobs]\nbackend = \"cloud\"", "blobs.backend"},
		{"[blobs]\nbackend = \"s3\"\nendpoint = \"https://s3.example\"", "blobs.endpoint"},
		{"[blobs]\nbackend = \"s3\"\nendpoint = \"s3.example\"", "blobs.bucket"},
		{"[blobs]\nbackend = \"s3\"\nendpoint = \"s3.example\"\nbucket = \"b\"", "blobs.access_key"},
		{"[blobs]\nbackend = \"s3\"\nendpoint = \"s3.example\"\nbucket = \"b\"\naccess_key = \"a\"\nsecret_key = \"s\"\npart_size = \"1MiB\"", "blobs.part_size"},
		{"[blobs]\nbackend = \"s3\"\nendpoint = \"s3.example\"\nbucket = \"b\"\naccess_key = \"a\"\nsecret_key = \"s\"\ntimeout = \"10ms\"", "blobs.timeout"},
	} {
		_, err := app.LoadConfig(writeConfig(t, tc.text))
		if assert.Error(t, err, tc.text) {
			assert.Contains(t, err.Error(), tc.key, tc.text)
		}
	}
	_, err := app.LoadConfig(filepath.Join(t.TempDir(), "missing.toml"))
	assert.ErrorContains(t, err, "missing.toml")
}

func TestConfig_Overrides(t *testing.T) {
	cfg, err := app.LoadConfig(writeConfig(t, `
listen = "127.0.0.1:9999"
default_package = "pro"
[auth]
signup = "open"
token_idle_timeout = "1h"
[packages.pro]
storage = "1GiB"
receive_per_month = 0
`))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9999", cfg.PublicURL, "public_url follows listen when not set")
	assert.Equal(t, "open", cfg.Auth.Signup)
	assert.Equal(t, app.Duration(time.Hour), cfg.Auth.TokenIdleTimeout)
	assert.Equal(t, "starttls", cfg.SMTP.TLS, "keys left out keep their defaults")
	assert.Equal(t, map[string]app.Package{"pro": {Storage: 1 << 30}}, cfg.Packages,
		"packages in the file replace the default ones")
	q := cfg.QuotaPackages()
	assert.Equal(t, "pro", q.Default)
	assert.Equal(t, int64(1<<30), q.ByName["pro"].Storage)
}

// Issue 18's configuration from the environment: FERRY_ and the key's
// path win over the file; a list is comma-separated; packages have their
// own names; secrets come from files; an unknown variable is an error
// that names it, as is a bad value.
func TestConfig_Environment(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "smtp-password")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret\n"), 0o600))
	path := writeConfig(t, "listen = \"127.0.0.1:9000\"\n[auth]\nsignup = \"invite\"\n[smtp]\npassword = \"from the file\"\n")
	t.Setenv("FERRY_AUTH_SIGNUP", "open")
	t.Setenv("FERRY_SMTP_PORT", "2525")
	t.Setenv("FERRY_SMTP_PASSWORD_FILE", secret)
	t.Setenv("FERRY_SEND_KEEP_HISTORY", "48h")
	t.Setenv("FERRY_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
	t.Setenv("FERRY_PACKAGES_PRO_STORAGE", "2GB")
	t.Setenv("FERRY_MAX_FILE_SIZE", "1GiB")
	c, err := app.LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, "open", c.Auth.Signup, "the environment wins over the file")
	assert.Equal(t, "127.0.0.1:9000", c.Listen, "the file wins over the default")
	assert.Equal(t, 2525, c.SMTP.Port)
	assert.Equal(t, "s3cret", c.SMTP.Password, "from the file the variable names, in place of the file's password")
	assert.Equal(t, app.Duration(48*time.Hour), c.Send.KeepHistory)
	assert.Equal(t, []string{"10.0.0.0/8", "127.0.0.1"}, c.TrustedProxies)
	assert.Equal(t, app.Size(2_000_000_000), c.Packages["pro"].Storage)
	assert.Equal(t, app.Size(1<<30), c.MaxFileSize)

	// The object store's keys, from the environment and a file.
	key := filepath.Join(dir, "s3-secret")
	require.NoError(t, os.WriteFile(key, []byte("s3 secret key\n"), 0o600))
	t.Setenv("FERRY_BLOBS_BACKEND", "s3")
	t.Setenv("FERRY_BLOBS_ENDPOINT", "s3.example:9000")
	t.Setenv("FERRY_BLOBS_BUCKET", "ferry")
	t.Setenv("FERRY_BLOBS_ACCESS_KEY", "AKIA")
	t.Setenv("FERRY_BLOBS_SECRET_KEY_FILE", key)
	c, err = app.LoadConfig(path)
	require.NoError(t, err)
	s3 := c.StoreS3()
	require.NotNil(t, s3)
	assert.Equal(t, "AKIA", s3.AccessKey)
	assert.Equal(t, "s3 secret key", s3.SecretKey)
	assert.Equal(t, int64(64<<20), s3.PartSize)
	assert.Equal(t, time.Hour, s3.OrphanGrace)
	for _, name := range []string{"FERRY_BLOBS_BACKEND", "FERRY_BLOBS_ENDPOINT", "FERRY_BLOBS_BUCKET", "FERRY_BLOBS_ACCESS_KEY", "FERRY_BLOBS_SECRET_KEY_FILE"} {
		os.Unsetenv(name)
	}

	t.Setenv("FERRY_LISTEN", "127.0.0.1:7000")
	c, err = app.LoadConfig("")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:7000", c.PublicURL, "public_url follows listen, as in the file")

	for name, value := range map[string]string{"FERRY_SMTP_PORT": "many", "FERRY_SEND_KEEP_HISTORY": "soon", "FERRY_NO_SUCH_KEY": "1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := app.LoadConfig(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
		})
	}
	both := writeConfig(t, "[smtp]\npassword = \"x\"\npassword_file = \""+secret+"\"\n")
	os.Unsetenv("FERRY_SMTP_PASSWORD_FILE")
	_, err = app.LoadConfig(both)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set one")
}

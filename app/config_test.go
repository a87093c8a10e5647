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

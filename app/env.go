package app

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Every key of the configuration can be set by an environment variable:
// FERRY_ and the key's path in upper case, dots and all as underscores
// (smtp.password is FERRY_SMTP_PASSWORD, auth.signup FERRY_AUTH_SIGNUP).
// A package's limits are FERRY_PACKAGES_<NAME>_STORAGE and
// FERRY_PACKAGES_<NAME>_RECEIVE_PER_MONTH (NAME in lower case in the
// config). A list is comma-separated. The environment wins over the file;
// an unknown FERRY_ variable is an error, as an unknown key is.
const envPrefix = "FERRY_"

// applyEnv sets c's keys from the FERRY_ variables of environ (as
// os.Environ gives them). A key and its _file twin (smtp.password and
// smtp.password_file) replace each other.
func applyEnv(c *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	envFields(reflect.ValueOf(c).Elem(), "", fields)
	var names []string
	values := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) {
			names = append(names, name)
			values[name] = value
		}
	}
	sort.Strings(names)
	for _, name := range names {
		value := values[name]
		if pkg, limit, ok := packageVar(name); ok {
			if c.Packages == nil {
				c.Packages = map[string]Package{}
			}
			p := c.Packages[pkg]
			target := &p.Storage
			if limit == "RECEIVE_PER_MONTH" {
				target = &p.ReceivePerMonth
			}
			if err := target.UnmarshalText([]byte(value)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			c.Packages[pkg] = p
			continue
		}
		f, ok := fields[name]
		if !ok {
			return fmt.Errorf("%s: no configuration key has this name (the rule: FERRY_ and the key's path in upper case, _ for dots)", name)
		}
		if err := setField(f, value); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		// The environment's value wins over the file's twin key.
		if twin, ok := fields[strings.TrimSuffix(name, "_FILE")]; ok && strings.HasSuffix(name, "_FILE") {
			twin.SetString("")
		} else if twin, ok := fields[name+"_FILE"]; ok {
			twin.SetString("")
		}
	}
	return nil
}

// envFields maps the variable name of every leaf key of the struct v to
// its field.
func envFields(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		key := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
		if key == "" || key == "packages" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			envFields(f, name+"_", out)
			continue
		}
		out[envPrefix+name] = f
	}
}

// packageVar splits FERRY_PACKAGES_<NAME>_<LIMIT>.
func packageVar(name string) (pkg, limit string, ok bool) {
	rest, ok := strings.CutPrefix(name, envPrefix+"PACKAGES_")
	if !ok {
		return "", "", false
	}
	for _, l := range []string{"RECEIVE_PER_MONTH", "STORAGE"} {
		if p, found := strings.CutSuffix(rest, "_"+l); found && p != "" {
			return strings.ToLower(p), l, true
		}
	}
	return "", "", false
}

// setField sets a key from its variable's text.
func setField(f reflect.Value, value string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(value))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", value)
		}
		f.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		f.SetBool(b)
	case reflect.Slice:
		var list []string
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// readSecretFiles reads the keys kept in files (smtp.password_file,
// metrics.token_file, blobs.access_key_file, blobs.secret_key_file: systemd's credentials, a container's secrets) into
// their keys; setting both a key and its file is an error. One trailing
// newline is dropped.
func (c *Config) readSecretFiles() error {
	for _, s := range []struct {
		key      string
		value    *string
		fileKey  string
		filePath string
	}{
		{"smtp.password", &c.SMTP.Password, "smtp.password_file", c.SMTP.PasswordFile},
		{"metrics.token", &c.Metrics.Token, "metrics.token_file", c.Metrics.TokenFile},
		{"blobs.access_key", &c.Blobs.AccessKey, "blobs.access_key_file", c.Blobs.AccessKeyFile},
		{"blobs.secret_key", &c.Blobs.SecretKey, "blobs.secret_key_file", c.Blobs.SecretKeyFile},
		{"oidc.client_secret", &c.OIDC.ClientSecret, "oidc.client_secret_file", c.OIDC.ClientSecretFile},
		{"cluster.secret", &c.Cluster.Secret, "cluster.secret_file", c.Cluster.SecretFile},
	} {
		if s.filePath == "" {
			continue
		}
		if *s.value != "" {
			return fmt.Errorf("%s and %s are both set: set one", s.key, s.fileKey)
		}
		b, err := os.ReadFile(s.filePath)
		if err != nil {
			return fmt.Errorf("%s: %w", s.fileKey, err)
		}
		*s.value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	return nil
}

package front

import (
	"net/http"
	"strconv"
	"strings"
)

// WantsPage reports whether a request is a browser's, by its Accept
// header, and not asking for the file itself (?download=1).
func WantsPage(r *http.Request) bool {
	if r.URL.Query().Get("download") == "1" {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if acceptsHTML(v) {
			return true
		}
	}
	return false
}

// acceptsHTML reports whether an Accept header lists text/html with a
// quality above 0.
func acceptsHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		media, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(media), "text/html") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") && strings.TrimSpace(v) != "" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

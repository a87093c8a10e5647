package server

import (
	"html/template"
	"net/http"
)

// signupPage is the page an invitation's link opens: a form that posts to
// POST /api/1/auth/register, which answers the new account's token.
var signupPage = template.Must(template.New("signup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Join ferry</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}label{display:block;margin:.8em 0}input{width:100%;padding:.4em}</style>
</head><body>
<h1>Join ferry</h1>
{{if eq .Signup "closed"}}<p>Signup is closed on this server: ask its administrator for an account.</p>{{else}}
<form method="post" action="{{.PublicURL}}/api/1/auth/register">
<input type="hidden" name="invite" value="{{.Invite}}">
<label>Email <input type="email" name="email" required></label>
<label>Full name <input name="fullname"></label>
<label>Password (at least 8 characters) <input type="password" name="password" minlength="8" required></label>
<button>Create account</button>
</form>
<p>Then sign in with any ferry client, or with <code>POST {{.PublicURL}}/api/1/auth/token</code>.</p>{{end}}
</body></html>
`))

// handleSignupPage is GET /signup[?invite=CODE].
func (s *Server) handleSignupPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	_ = signupPage.Execute(w, map[string]string{
		"Signup":    s.cfg.Signup,
		"PublicURL": s.cfg.PublicURL,
		"Invite":    r.URL.Query().Get("invite"),
	})
}

package sandboxbank

import (
	"html/template"
	"net/http"
	"sort"
)

// pageData feeds the SCA page template.
type pageData struct {
	Bank       bankInfo
	Title      string
	Step       string // login, otp, decision, or "" for a message page
	Req        string
	Error      string
	Persona    string
	Service    string
	Scopes     []string
	Accounts   []string
	ValidUntil string
	Payment    string
	Base       string
	Banks      []bankInfo
	Personas   []persona
}

// The SCA pages are plain HTML forms: no JavaScript, no external resources.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{if .Bank.Name}}{{.Bank.Name}}{{else}}Tok Sandbox Bank{{end}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f8;color:#1b2430;margin:0}
header{background:#12355b;color:#fff;padding:14px 24px;font-weight:600}
header small{font-weight:400;opacity:.8;margin-left:8px}
main{max-width:460px;margin:32px auto;background:#fff;border-radius:10px;padding:28px;box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin-top:0}
label{display:block;margin:14px 0 4px;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:10px;font-size:1rem;border:1px solid #b8c2cc;border-radius:6px}
button{margin-top:18px;padding:10px 18px;font-size:1rem;border-radius:6px;border:0;cursor:pointer}
.primary{background:#1565c0;color:#fff}.secondary{background:#e4e8ed;color:#1b2430;margin-left:8px}
.error{background:#fdecea;color:#8a1c12;padding:10px;border-radius:6px}
.note{color:#5a6877;font-size:.9rem}
ul{padding-left:20px}
</style>
</head>
<body>
<header>{{if .Bank.Name}}{{.Bank.Name}}<small>{{.Bank.BIC}} · sandbox</small>{{else}}Tok Sandbox Bank{{end}}</header>
<main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if eq .Step "login"}}
<form method="post" action="{{.Base}}/oauth2/authorize/login">
<input type="hidden" name="req" value="{{.Req}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button class="primary" type="submit" id="login">Sign in</button>
</form>
<p class="note">Sandbox: user <b>demo</b>, password <b>demo</b>. Other personas: business, down, slow, deny, revoke, expire, broke (password = name).</p>
{{else if eq .Step "otp"}}
<p>Hello {{.Persona}}. We sent a one-time code to your phone.</p>
<form method="post" action="{{.Base}}/oauth2/authorize/otp">
<input type="hidden" name="req" value="{{.Req}}">
<label for="otp">One-time code</label>
<input type="text" id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" required autofocus>
<button class="primary" type="submit" id="verify">Verify</button>
</form>
<p class="note">Sandbox: the code is <b>123456</b>.</p>
{{else if eq .Step "decision"}}
{{if eq .Service "AIS"}}
<p>{{.Persona}}, an application asks to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<p>for these accounts:</p>
<ul>{{range .Accounts}}<li>{{.}}</li>{{end}}</ul>
<p>until <b>{{.ValidUntil}}</b>, up to a few times a day without you.</p>
{{else if eq .Service "VRP"}}
<p>{{.Persona}}, an application asks to take payments from your account without you, within these limits:</p>
<p><b id="mandate">{{.Payment}}</b></p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<p>You can end this at any time.</p>
{{else}}
<p>{{.Persona}}, an application asks you to pay:</p>
<p><b>{{.Payment}}</b></p>
{{end}}
<form method="post" action="{{.Base}}/oauth2/authorize/decision">
<input type="hidden" name="req" value="{{.Req}}">
<button class="primary" type="submit" name="decision" value="approve" id="approve">Approve</button>
<button class="secondary" type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
{{else if .Banks}}
<p>A Berlin Group NextGenPSD2 sandbox with one bank per country. API base: <code>{{.Base}}/banks/{bankId}/v1</code>; OAuth2: <code>{{.Base}}/banks/{bankId}/oauth2/authorize</code> and <code>/oauth2/token</code>.</p>
<ul>{{range .Banks}}<li><code>{{.ID}}</code> {{.Name}} ({{.Currency}})</li>{{end}}</ul>
<p>Personas (one-time code 123456):</p>
<ul>{{range .Personas}}<li><code>{{.ID}}</code> / <code>{{.Password}}</code></li>{{end}}</ul>
{{end}}
</main>
</body>
</html>
`))

// page renders an HTML page of the bank.
func (s *Server) page(w http.ResponseWriter, status int, b bankInfo, pd pageData) {
	pd.Bank = b
	if pd.Base == "" {
		pd.Base = bankPath(b)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, pd)
}

// index lists the sandbox banks and personas.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	pd := pageData{Title: "Tok Sandbox Bank", Base: Prefix}
	for _, id := range BankIDs() {
		b, _ := bankByID(id)
		pd.Banks = append(pd.Banks, b)
	}
	for _, p := range personas {
		pd.Personas = append(pd.Personas, p)
	}
	sort.Slice(pd.Personas, func(i, j int) bool { return pd.Personas[i].ID < pd.Personas[j].ID })
	s.page(w, 200, bankInfo{}, pd)
}

package callback

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/random"
)

// DefaultPatience is how long the callback's work may hold the browser without a byte: a
// bank slower than that gets the customer a waiting page first.
const DefaultPatience = 2 * time.Second

// outcomePath is where a waiting page sends the browser once the work is done.
const outcomePath = "/v1/callback/outcomes/"

// outcomeOf is the recorded answer as an authstate.Outcome.
func outcomeOf(r *httpapi.Recorder) authstate.Outcome {
	if loc := r.Header().Get("Location"); loc != "" && r.Status()/100 == 3 {
		return authstate.Outcome{Done: true, Status: r.Status(), Location: loc}
	}
	return authstate.Outcome{Done: true, Status: r.Status(), ContentType: r.Header().Get("Content-Type"), Body: r.Body()}
}

// patient runs the callback's work and answers its response when it is done within
// patience. Otherwise it streams a waiting page at once, keeps the work's answer under a
// ticket (authstate.Outcome), and ends the page by sending the browser to the ticket's URL,
// which answers what the callback would have (the redirect to the callbackUrl, or a page).
// The page links to that URL from its first byte, so a stream the browser loses loses no
// outcome. The work runs to its own deadline even when the browser goes away: the bank's
// code is spent once exchanged, so stopping half-way would only lose the authorisation.
func (s *Server) patient(work httpapi.HandlerFunc) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), platform.BankWait)
		defer cancel()
		wr := r.WithContext(ctx)
		// The response is held back until it is known whether the browser gets it directly.
		rec := httpapi.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					httpapi.WriteError(rec, wr, httpapi.Internal(fmt.Errorf("panic: %v", p)))
				}
			}()
			if err := work(rec, wr); err != nil {
				httpapi.WriteError(rec, wr, err)
			}
		}()
		patience := s.Patience
		if patience <= 0 {
			patience = DefaultPatience
		}
		timer := time.NewTimer(patience)
		defer timer.Stop()
		select {
		case <-done:
			rec.Replay(w)
			return nil
		case <-timer.C:
		}
		ticket, err := s.States.NewOutcome(ctx, s.now())
		if err != nil {
			slog.WarnContext(ctx, "no waiting page: the outcome cannot be kept", "error", err)
			<-done
			rec.Replay(w)
			return nil
		}
		next := outcomePath + ticket
		texts := waitingTexts(r)
		nonce := setPageHeaders(w)
		w.WriteHeader(http.StatusOK)
		if err := waitingPage.Execute(w, waitingData{waiting: texts, Nonce: nonce, Next: next}); err != nil {
			slog.WarnContext(ctx, "write waiting page", "error", err)
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			slog.WarnContext(ctx, "flush waiting page", "error", err)
		}
		<-done
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer fcancel()
		if err := s.States.FinishOutcome(fctx, ticket, outcomeOf(rec)); err != nil {
			slog.ErrorContext(ctx, "callback outcome not kept", "error", err)
			if loc := outcomeOf(rec).Location; loc != "" {
				next = loc // the answer is a redirect: send the browser there directly
			}
		}
		_ = waitingEnd.Execute(w, next)
		return nil
	}
}

// outcome answers a waiting page's ticket: the callback's answer once it is there, until
// then the waiting page again, refreshing itself.
func (s *Server) outcome(w http.ResponseWriter, r *http.Request) error {
	o, err := s.States.Outcome(r.Context(), r.PathValue("ticket"), s.now())
	if errors.Is(err, authstate.ErrBadState) {
		badState(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case !o.Done:
		nonce := setPageHeaders(w)
		w.WriteHeader(http.StatusOK)
		_ = waitingPage.Execute(w, waitingData{waiting: waitingTexts(r), Nonce: nonce, Next: r.URL.Path, Refresh: true})
		_ = waitingEnd.Execute(w, "")
	case o.Location != "":
		w.Header().Set("Cache-Control", "no-store")
		// The target is the callback's own redirect: a callbackUrl checked against the
		// organisation's allowed origins when the consent or payment was created.
		http.Redirect(w, r, o.Location, o.Status) //nolint:gosec // G710: see above
	default:
		setPageHeaders(w)
		w.Header().Set("Content-Type", o.ContentType)
		w.WriteHeader(o.Status)
		_, _ = w.Write(o.Body)
	}
	return nil
}

// setPageHeaders sets the headers of the callback's pages and returns the nonce of their
// style.
func setPageHeaders(w http.ResponseWriter) string {
	nonce := random.Token(16)
	httpapi.SetPageHeaders(w.Header(), "default-src 'none'; style-src 'nonce-"+nonce+"'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
	return nonce
}

// waiting is the waiting page's text in one language.
type waiting struct{ Lang, Title, Message, Continue string }

type waitingData struct {
	waiting
	Nonce, Next string
	// Refresh makes the page reload itself (the outcome URL while the work runs).
	Refresh bool
}

// waitingTexts is the page's text in the browser's language (Accept-Language), one of
// the hosted pages' locales.
func waitingTexts(r *http.Request) waiting {
	lang := hosted.Negotiate(r.Header.Get("Accept-Language"))
	t, ok := waitingByLocale[lang]
	if !ok {
		t = waitingByLocale[hosted.DefaultLocale]
	}
	t.Lang = lang
	return t
}

var waitingByLocale = map[string]waiting{
	"en":      {Title: "Connecting to your bank", Message: "Your bank answered. Tok is finishing the request, which can take a few seconds; then you go back to the application.", Continue: "Continue"},
	"sr-Latn": {Title: "Povezivanje sa vašom bankom", Message: "Vaša banka je odgovorila. Tok završava zahtev, što može potrajati nekoliko sekundi; zatim se vraćate u aplikaciju.", Continue: "Nastavi"},
	"sr-Cyrl": {Title: "Повезивање са вашом банком", Message: "Ваша банка је одговорила. Tok завршава захтев, што може потрајати неколико секунди; затим се враћате у апликацију.", Continue: "Настави"},
	"hr":      {Title: "Povezivanje s vašom bankom", Message: "Vaša banka je odgovorila. Tok dovršava zahtjev, što može potrajati nekoliko sekundi; zatim se vraćate u aplikaciju.", Continue: "Nastavi"},
	"sl":      {Title: "Povezovanje z vašo banko", Message: "Vaša banka je odgovorila. Tok zaključuje zahtevo, kar lahko traja nekaj sekund; nato se vrnete v aplikacijo.", Continue: "Nadaljuj"},
	"mk":      {Title: "Поврзување со вашата банка", Message: "Вашата банка одговори. Tok го завршува барањето, што може да трае неколку секунди; потоа се враќате во апликацијата.", Continue: "Продолжи"},
	"sq":      {Title: "Po lidhemi me bankën tuaj", Message: "Banka juaj u përgjigj. Tok po përfundon kërkesën, gjë që mund të zgjasë disa sekonda; pastaj ktheheni te aplikacioni.", Continue: "Vazhdo"},
	"bg":      {Title: "Свързване с вашата банка", Message: "Вашата банка отговори. Tok завършва заявката, което може да отнеме няколко секунди; след това се връщате в приложението.", Continue: "Продължи"},
	"ro":      {Title: "Conectare la banca dumneavoastră", Message: "Banca dumneavoastră a răspuns. Tok finalizează cererea, ceea ce poate dura câteva secunde; apoi reveniți în aplicație.", Continue: "Continuă"},
}

// waitingPage is the start of the waiting page, sent before the work ends; the link is
// there from the first byte for a browser whose stream breaks.
var waitingPage = template.Must(template.New("w").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="2">
{{end}}<title>{{.Title}} · Tok</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}a{color:#0b57d0}</style>
</head><body><main aria-busy="true"><h1 id="title">{{.Title}}</h1><p id="message" role="status">{{.Message}}</p>
<p><a id="continue" href="{{.Next}}">{{.Continue}}</a></p>
`))

// waitingEnd ends the waiting page: with the work done, the browser goes on at once.
var waitingEnd = template.Must(template.New("e").Parse(`{{if .}}<meta http-equiv="refresh" content="0;url={{.}}">
{{end}}</main></body></html>
`))

// Package gateway plays, locally, the two Google components in front of Tok's functions:
// the load balancer (API serves one of its two hosts: a /v1/... request goes to the function
// whose manifest routes own the path, unchanged, with the host's environment header set as
// the URL map's header action sets it) and the push subscriptions of event functions (Pushes
// receives the Pub/Sub emulator's pushes and forwards them as Pub/Sub pushes them in Google
// Cloud). The two are
// separate handlers for separate listeners: the API ports never deliver an event.
package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/random"
	"tokapi.io/tok/shared/tenant"
)

// Bounds on what a client may send, as the load balancer bounds them: how long the body may
// take to arrive, and how large it may be. Functions never see a partial or malformed body.
const (
	BodyReadTimeout = 10 * time.Second
	MaxBodyBytes    = 1 << 20
	// requestTimeout is the load balancer's backend timeout; functions set shorter deadlines.
	requestTimeout = 60 * time.Second
)

// Gateway routes HTTP requests and Pub/Sub pushes to function instances.
type Gateway struct {
	manifest *manifest.Manifest
	project  string
	backends map[string]*url.URL
	proxies  map[string]*httputil.ReverseProxy
	client   *http.Client
	// pushToken is the secret first segment of every push path: Pub/Sub in Google Cloud
	// authenticates its pushes with an OIDC token, which the emulator cannot, so a page in
	// the developer's browser that guesses the push port still cannot post an event.
	pushToken string
}

// New returns a gateway for the functions of m, each served at backends[name] (a base URL
// such as http://127.0.0.1:9101). project is the Pub/Sub project, for CloudEvent sources.
func New(m *manifest.Manifest, project string, backends map[string]string) (*Gateway, error) {
	g := &Gateway{manifest: m, project: project, backends: map[string]*url.URL{}, proxies: map[string]*httputil.ReverseProxy{},
		client: &http.Client{Timeout: 60 * time.Second}, pushToken: hex.EncodeToString(random.Bytes(16))}
	for _, f := range m.Functions {
		raw, ok := backends[f.Name]
		if !ok {
			return nil, fmt.Errorf("no backend for function %q", f.Name)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("backend of %q: %w", f.Name, err)
		}
		g.backends[f.Name] = u
		if f.Kind == manifest.KindHTTP {
			g.proxies[f.Name] = newProxy(f.Name, u)
		}
	}
	return g, nil
}

func newProxy(name string, target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
			pr.SetXForwarded()
			// The load balancer appends its own address after the client's.
			if local, ok := pr.In.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				if host, _, err := net.SplitHostPort(local.String()); err == nil {
					pr.Out.Header.Set("X-Forwarded-For", pr.Out.Header.Get("X-Forwarded-For")+", "+host)
				}
			}
			// Like the load balancer, the gateway starts a trace for untraced requests.
			if pr.In.Header.Get("traceparent") == "" && pr.In.Header.Get("X-Cloud-Trace-Context") == "" {
				pr.Out.Header.Set("traceparent", newTraceparent())
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set(httpapi.RequestIDHeader, httpapi.RequestID(r.Context()))
			slog.ErrorContext(r.Context(), "function unreachable", "function", name, "error", err)
			httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusBadGateway, Code: httpapi.CodeInternal,
				Message: "The function serving this path is not reachable.", Err: err})
		},
	}
}

// API returns the load balancer's handler for the host of environment env (tenant.Live or
// tenant.Sandbox). Like the URL map's header action for that host, it sets
// tenant.EnvironmentHeader to env, replacing whatever the client sent.
func (g *Gateway) API(env string) http.Handler {
	return httpapi.MiddlewareWithTimeout(g.project, requestTimeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(tenant.EnvironmentHeader, env)
		g.route(w, r)
	}))
}

// route answers, in the envelope, what no function may see (a path that is not canonical,
// a body that is malformed, too large or too slow), and proxies the rest to the function
// whose routes own the path; the function's response carries its own request ID.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	if !httpapi.CanonicalPath(r.URL) {
		httpapi.WriteError(w, r, httpapi.NotFoundPath(r))
		return
	}
	f, ok := g.manifest.Route(r.URL.Path)
	if !ok {
		// Like the URL map's default service: the function authenticates the request and
		// answers 404 in the envelope, with the caller's rate-limit headers.
		if f, ok = g.manifest.DefaultHTTP(); !ok {
			httpapi.WriteError(w, r, httpapi.NotFoundPath(r))
			return
		}
	}
	if err := httpapi.ReadBody(w, r, BodyReadTimeout, MaxBodyBytes); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Del(httpapi.RequestIDHeader)
	g.proxies[f.Name].ServeHTTP(w, r)
}

// Pushes returns Eventarc's handler: POST /<push token>/<function> from a push subscription
// that SetupPubSub made. Serve it on its own loopback listener, never on an API port.
func (g *Gateway) Pushes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if !ok || r.Method != http.MethodPost || subtle.ConstantTimeCompare([]byte(token), []byte(g.pushToken)) != 1 {
			http.NotFound(w, r)
			return
		}
		g.deliverPush(w, r, name)
	})
}

// PushBase is the base URL push subscriptions post to, given the push listener's base URL.
func (g *Gateway) PushBase(listenerURL string) string {
	return strings.TrimSuffix(listenerURL, "/") + "/" + g.pushToken
}

// pushBody is what a Pub/Sub push subscription POSTs.
type pushBody struct {
	Message struct {
		MessageID string `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// deliverPush forwards a Pub/Sub push to its event function as the deployed push
// subscription does (infra/modules/function): the push body unchanged, at the path
// /projects/P/topics/T from which the functions framework builds the messagePublished
// CloudEvent. The function's status is the emulator's answer, so a failed function means a
// redelivery.
func (g *Gateway) deliverPush(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := g.manifest.Function(name)
	if !ok || f.Kind != manifest.KindEvent {
		http.Error(w, "unknown event function", http.StatusNotFound)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		http.Error(w, "read push body", http.StatusBadRequest)
		return
	}
	var body pushBody
	if err := json.Unmarshal(raw, &body); err != nil || body.Message.MessageID == "" {
		http.Error(w, "not a Pub/Sub push body", http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, g.backends[name].String()+"/"+topicName(g.project, f.Trigger), bytes.NewReader(raw))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		slog.Error("event delivery failed", "function", name, "error", err)
		http.Error(w, "function unreachable", http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	w.WriteHeader(resp.StatusCode)
}

// SubscriptionID is the push subscription that feeds event function name.
func SubscriptionID(name string) string { return "eventarc-" + name }

// SetupPubSub creates the manifest's topics and one push subscription per event function,
// pushing to pushBase/<function> (PushBase of the push listener). It is idempotent.
func SetupPubSub(ctx context.Context, client *pubsub.Client, project string, m *manifest.Manifest, pushBase string) error {
	for _, t := range m.Topics {
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(project, t.Name)})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("create topic %s: %w", t.Name, err)
		}
	}
	for _, f := range m.Functions {
		if f.Kind != manifest.KindEvent {
			continue
		}
		_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               "projects/" + project + "/subscriptions/" + SubscriptionID(f.Name),
			Topic:              topicName(project, f.Trigger),
			AckDeadlineSeconds: 60,
			PushConfig:         &pubsubpb.PushConfig{PushEndpoint: strings.TrimSuffix(pushBase, "/") + "/" + f.Name},
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("create push subscription for %s: %w", f.Name, err)
		}
	}
	return nil
}

func topicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

// ErrNotReady is returned by WaitReady when a function did not answer in time.
var ErrNotReady = errors.New("function not ready")

// WaitReady waits until every backend accepts connections. The framework registers the
// function before it listens, so a connection is readiness; an HTTP probe would be an
// event function's first (unparsable) event.
func (g *Gateway) WaitReady(ctx context.Context) error {
	for name, u := range g.backends {
		for {
			conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", u.Host)
			if err == nil {
				_ = conn.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s: %v", ErrNotReady, name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

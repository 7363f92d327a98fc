package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponseBytes bounds how much of a response body the client reads; the
// largest legitimate answer is an OpenAPI document (8 MiB on the server).
const maxResponseBytes = 32 << 20

// DefaultUserAgent is sent when WithUserAgent is not given.
const DefaultUserAgent = "portico-go-client/1"

// Client calls the management API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	baseErr   error
	hc        *http.Client
	userAgent string
	wrappers  []func(http.RoundTripper) http.RoundTripper
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests through hc (its timeout,
// transport, proxy settings). The client never modifies hc: round-tripper
// hooks wrap a copy of it.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithRoundTripper wraps the transport with wrap, which sees every request
// just before it is sent and may change it: this is the hook for request
// signers (AK/SK SigV4) and for logging. Requests carry their body in a
// form that req.GetBody can re-read, so a signer may hash it. Wrappers apply
// in the order given, each around the transport built so far; the first one
// given is therefore nearest the network and sees the request last.
func WithRoundTripper(wrap func(next http.RoundTripper) http.RoundTripper) Option {
	return func(c *Client) {
		if wrap != nil {
			c.wrappers = append(c.wrappers, wrap)
		}
	}
}

// WithToken authenticates every request with a personal access token
// (Authorization: Bearer pat_…). A request that already carries an
// Authorization header, such as CreateToken's HTTP Basic, keeps it. An
// empty token sends no header.
func WithToken(pat string) Option {
	return WithRoundTripper(func(next http.RoundTripper) http.RoundTripper {
		return &bearerTransport{next: next, token: pat}
	})
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

type bearerTransport struct {
	next  http.RoundTripper
	token string
}

// RoundTrip adds the bearer token unless the request carries its own
// Authorization.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token == "" || req.Header.Get("Authorization") != "" {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not modify the request it was given.
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

// New returns a client of the Portico server at baseURL, such as
// "https://portico.example.com" (a path prefix is kept: routes are joined
// under it). A malformed baseURL makes every call fail with the parse error.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{hc: &http.Client{Timeout: 2 * time.Minute}, userAgent: DefaultUserAgent}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	switch {
	case err != nil:
		c.baseErr = fmt.Errorf("portico client: base URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		c.baseErr = fmt.Errorf("portico client: base URL %q: use http:// or https:// and a host", baseURL)
	default:
		u.RawQuery, u.Fragment = "", ""
		c.base = u
	}
	for _, o := range opts {
		o(c)
	}
	if len(c.wrappers) > 0 {
		hc := *c.hc
		rt := hc.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		for _, w := range c.wrappers {
			rt = w(rt)
		}
		hc.Transport = rt
		c.hc = &hc
	}
	return c
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// path joins escaped segments into a route under /api/v1.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// request is one call: method, route, query, JSON body and the value the
// JSON answer decodes into (nil to discard it; *json.RawMessage keeps it raw).
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	out    any
	header http.Header
}

// do sends r and decodes the answer; any status outside 2xx is an *Error.
func (c *Client) do(ctx context.Context, r request) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	// Routes are escaped segment by segment (see path), so plain
	// concatenation keeps a slug with odd characters inside its segment.
	target := strings.TrimRight(c.base.String(), "/") + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp, data)
	}
	if r.out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := r.out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// Ptr returns a pointer to v, for the optional fields of request types.
func Ptr[T any](v T) *T { return &v }

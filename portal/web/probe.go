package web

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/pages/apis"
)

// probeTimeout bounds each connection test, from dialling to the response
// headers.
const probeTimeout = 3 * time.Second

// errBlockedUpstream is returned by the dialler of a connection test for an
// address upstreams may not use.
var errBlockedUpstream = errors.New("blocked upstream address")

// probeUpstream tests each target at once: a HEAD request to the target
// URL, or a GET of the health-check path when there is one (a target that
// refuses HEAD with 405 or 501 is asked again with GET). Redirects are
// reported, not followed.
//
// Unless allowPrivate, the dialler refuses the addresses the catalog's
// UpstreamGuard refuses (catalog.BlockedAddr). It checks the address it is
// about to connect to, after name resolution, so a name that resolves to a
// public address when saved and to a private one now is refused too.
func probeUpstream(ctx context.Context, targets []catalog.Target, healthPath string, allowPrivate bool) []apis.ProbeResult {
	client := probeClient(allowPrivate)
	defer client.CloseIdleConnections()
	out := make([]apis.ProbeResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { out[i] = probeTarget(ctx, client, t.URL, healthPath) })
	}
	wg.Wait()
	return out
}

func probeClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: probeTimeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error { return checkDialAddr(address) }
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // the test is about the target, not a proxy
			DialContext:            d.DialContext,
			TLSHandshakeTimeout:    probeTimeout,
			ResponseHeaderTimeout:  probeTimeout,
			MaxResponseHeaderBytes: 64 << 10,
			DisableKeepAlives:      true,
			ForceAttemptHTTP2:      true,
		},
		Timeout:       probeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkDialAddr refuses to connect to an "ip:port" the catalog's
// UpstreamGuard would refuse. Zones are dropped first: a prefix never
// contains an address with a zone, so fe80::1%eth0 would slip through.
func checkDialAddr(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return errBlockedUpstream
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || catalog.BlockedAddr(addr.WithZone("")) {
		return errBlockedUpstream
	}
	return nil
}

func probeTarget(ctx context.Context, client *http.Client, target, healthPath string) apis.ProbeResult {
	u, err := url.Parse(strings.TrimSpace(target))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return apis.ProbeResult{URL: target, Method: http.MethodHead, Error: "Not an http:// or https:// URL with a host (and no credentials)."}
	}
	method := http.MethodHead
	if healthPath != "" {
		u.Path = strings.TrimRight(u.Path, "/") + "/" + strings.TrimLeft(healthPath, "/")
		u.RawPath = ""
		method = http.MethodGet
	}
	res := apis.ProbeResult{URL: u.String(), Method: method}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	status, err := probeOnce(ctx, client, method, res.URL)
	if err == nil && method == http.MethodHead && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented) {
		res.Method = http.MethodGet
		start = time.Now()
		status, err = probeOnce(ctx, client, http.MethodGet, res.URL)
	}
	elapsed := time.Since(start)
	if err != nil {
		res.Error = probeError(err)
		return res
	}
	res.Status = status
	res.Latency = strconv.FormatInt(max(elapsed.Milliseconds(), 1), 10) + " ms"
	return res
}

func probeOnce(ctx context.Context, client *http.Client, method, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "Portico-connection-test/1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// probeError says in plain words why a target could not be reached.
func probeError(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	switch {
	case errors.Is(err, errBlockedUpstream):
		return "Blocked: the address is private, loopback, link-local or reserved. Upstreams must be public."
	case errors.As(err, &dnsErr):
		return "The host name does not resolve."
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused: nothing listens on that port."
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return "No answer within " + strconv.Itoa(int(probeTimeout/time.Second)) + " seconds."
	case errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr):
		return "The TLS certificate is not valid for this host."
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return "Failed: " + msg
}

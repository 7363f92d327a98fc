package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// Config is the whole configuration of a portico process, read once from
// flags and PORTICO_* environment variables (a flag wins over its variable).
type Config struct {
	DataDir     string
	PortalAddr  string
	GatewayAddr string
	AdminAddr   string
	DatabaseURL string
	RedisURL    string
	// RedisFailMode is "open" (serve under each node's own limits while
	// Redis fails) or "closed" (refuse beyond budget already leased).
	RedisFailMode string
	MasterKey     string
	// PreviousMasterKeys are the master keys MasterKey replaces, while a
	// rotation is under way (comma-separated).
	PreviousMasterKeys string
	BaseURL            string
	SMTPURL            string
	OperatorToken      string
	LogFormat          string
	LogLevel           string
	TrustedProxies     []string
	// TrustedPrefixes are TrustedProxies parsed, for the gateway.
	TrustedPrefixes []netip.Prefix
	SessionTTL      time.Duration
	ShutdownTimeout time.Duration
	Region          string
	// GatewayDomain is the platform's gateway domain: a request to
	// {org}.{GatewayDomain}/{api}/{version}/… is routed to organisation
	// {org}, and providers cannot claim host names under it as custom
	// domains. "" turns host-based routing off (path-based routing
	// /{org}/{api}/{version}/… always works).
	GatewayDomain string
	// GatewayTLSAddr is the gateway's TLS listener; "" leaves TLS off.
	GatewayTLSAddr string
	// TLSCertFile and TLSKeyFile hold the default certificate the TLS
	// listener serves to names without a custom-domain certificate.
	TLSCertFile string
	TLSKeyFile  string
	// AllowPrivateUpstreams lets upstream URLs point at private, loopback
	// and link-local addresses; nil means "on for SQLite, off for PostgreSQL".
	AllowPrivateUpstreams *bool
	// CustomDomainAnyIssuer accepts custom-domain certificates from any
	// issuer; nil means "on for SQLite, off for PostgreSQL".
	CustomDomainAnyIssuer *bool
	// GatewayIPAllow and GatewayIPDeny are the gateway's global client
	// address lists (CIDRs or addresses).
	GatewayIPAllow, GatewayIPDeny []string
	// GatewayMaxConnsPerIP caps the connections one client address may
	// hold open on a gateway listener (0 = no cap).
	GatewayMaxConnsPerIP int
	// GatewayIPv6Prefix is the IPv6 prefix length that makes one client
	// for the gateway's per-IP request rate, concurrency cap and ban
	// (gateway.Protection.IPv6PrefixLen; 0 = its default, 64).
	GatewayIPv6Prefix int
	// GatewayNoncesPerOrg caps the unexpired X-Portico-Nonce values one
	// organisation's keys may hold together (sigv4.MaxNoncesPerKey).
	GatewayNoncesPerOrg int
	// GatewayLimits bound slow and oversized requests.
	GatewayLimits gateway.ServerLimits
	// GatewayHTTPServer serves the plain-HTTP gateway listener:
	// gateway.LeanServer or gateway.StdServer.
	GatewayHTTPServer string
	// Demo seeds an empty database with a ready-to-call API and writes
	// demo.json.
	Demo bool
	// RebuildGCPercent is the collector's GOGC while the gateway rebuilds
	// its configuration (gwconfig.Reloader), 0 to leave it alone:
	// gwconfig.DefaultRebuildGCPercent when GOGC is unset and main serves
	// with 200, nothing when the operator set GOGC.
	RebuildGCPercent int
}

// option is one setting: its flag, its variable, its default and its help —
// the single list the README's configuration table is checked against.
type option struct {
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

// booleanFlags are set by a bare --flag.
var booleanFlags = map[string]bool{"demo": true}

func options() []option {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	dur := func(p func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration like 30s or 168h", v)
			}
			*p(c) = d
			return nil
		}
	}
	cidrs := func(p func(*Config) *[]string) func(*Config, string) error {
		return func(c *Config, v string) error {
			var out []string
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e == "" {
					continue
				}
				if _, err := gateway.ParsePrefix(e); err != nil {
					return err
				}
				out = append(out, e)
			}
			*p(c) = out
			return nil
		}
	}
	return []option{
		{"data-dir", "PORTICO_DATA_DIR", "./data", "directory for the SQLite database and generated keys", str(func(c *Config) *string { return &c.DataDir })},
		{"portal-addr", "PORTICO_PORTAL_ADDR", "127.0.0.1:8080", "listen address of the console and management API", str(func(c *Config) *string { return &c.PortalAddr })},
		{"gateway-addr", "PORTICO_GATEWAY_ADDR", "127.0.0.1:8000", "listen address of the API gateway", str(func(c *Config) *string { return &c.GatewayAddr })},
		{"admin-addr", "PORTICO_ADMIN_ADDR", "127.0.0.1:9090", "listen address of the admin endpoints (Prometheus /metrics); keep it private", str(func(c *Config) *string { return &c.AdminAddr })},
		{"database-url", "PORTICO_DATABASE_URL", "", "postgres:// URL; empty uses the embedded SQLite database in the data dir", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"redis-url", "PORTICO_REDIS_URL", "", "redis:// URL for shared counters across nodes; empty keeps them in process", str(func(c *Config) *string { return &c.RedisURL })},
		{"redis-fail-mode", "PORTICO_REDIS_FAIL_MODE", "open", "while Redis is unreachable: open serves under each node's own limits, closed refuses calls beyond the budget already leased (hard quotas hold)", func(c *Config, v string) error {
			switch v {
			case "open", "closed":
				c.RedisFailMode = v
				return nil
			}
			return fmt.Errorf("%q: use open or closed", v)
		}},
		{"master-key", "PORTICO_MASTER_KEY", "", "32-byte key (64 hex chars or base64) that encrypts secrets at rest; generated into the data dir when empty on SQLite, required on PostgreSQL", str(func(c *Config) *string { return &c.MasterKey })},
		{"previous-master-keys", "PORTICO_PREVIOUS_MASTER_KEYS", "", "comma-separated master keys the current one replaces, during a rotation: secrets sealed and sessions or tokens signed under them stay valid until `portico reseal` has moved them to the current key", str(func(c *Config) *string { return &c.PreviousMasterKeys })},
		{"base-url", "PORTICO_BASE_URL", "", "external URL of the console, used in emailed links (default http://<portal-addr>); https:// makes cookies Secure and enables HSTS", str(func(c *Config) *string { return &c.BaseURL })},
		{"smtp-url", "PORTICO_SMTP_URL", "", "smtp://user:pass@host:587?from=addr or smtps://…:465; empty writes emails to the development outbox", str(func(c *Config) *string { return &c.SMTPURL })},
		{"operator-token", "PORTICO_OPERATOR_TOKEN", "", "token for the operator pages (outbox); generated into the data dir when empty", str(func(c *Config) *string { return &c.OperatorToken })},
		{"log-format", "PORTICO_LOG_FORMAT", "text", "log format: text or json", str(func(c *Config) *string { return &c.LogFormat })},
		{"log-level", "PORTICO_LOG_LEVEL", "info", "log level: debug, info, warn, error", str(func(c *Config) *string { return &c.LogLevel })},
		{"trusted-proxies", "PORTICO_TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is trusted", func(c *Config, v string) error {
			c.TrustedProxies, c.TrustedPrefixes = nil, nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					pr, err := gateway.ParsePrefix(p)
					if err != nil {
						return err
					}
					c.TrustedProxies, c.TrustedPrefixes = append(c.TrustedProxies, p), append(c.TrustedPrefixes, pr)
				}
			}
			return nil
		}},
		{"gateway-ip-allow", "PORTICO_GATEWAY_IP_ALLOW", "", "comma-separated CIDRs or addresses allowed to call the gateway; empty allows all (APIs can narrow it further)", cidrs(func(c *Config) *[]string { return &c.GatewayIPAllow })},
		{"gateway-ip-deny", "PORTICO_GATEWAY_IP_DENY", "", "comma-separated CIDRs or addresses refused by the gateway before anything else", cidrs(func(c *Config) *[]string { return &c.GatewayIPDeny })},
		{"gateway-read-header-timeout", "PORTICO_GATEWAY_READ_HEADER_TIMEOUT", "10s", "how long a gateway client may take to send its request headers (slow-header defence)", dur(func(c *Config) *time.Duration { return &c.GatewayLimits.ReadHeaderTimeout })},
		{"gateway-read-timeout", "PORTICO_GATEWAY_READ_TIMEOUT", "60s", "how long a gateway client may take to send a whole request, body included", dur(func(c *Config) *time.Duration { return &c.GatewayLimits.ReadTimeout })},
		{"gateway-send-timeout", "PORTICO_GATEWAY_SEND_TIMEOUT", "60s", "how long one write to a gateway client may make no progress before the connection closes (slow-reader defence; a client that keeps reading is never cut)", dur(func(c *Config) *time.Duration { return &c.GatewayLimits.SendTimeout })},
		{"gateway-max-conns-per-ip", "PORTICO_GATEWAY_MAX_CONNS_PER_IP", "512", "connections one client address may hold open on the gateway (trusted proxies exempt); 0 for no cap", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q: use a number of connections, or 0 for no cap", v)
			}
			c.GatewayMaxConnsPerIP = n
			return nil
		}},
		{"gateway-ipv6-prefix", "PORTICO_GATEWAY_IPV6_PREFIX", "64", "leading bits of an IPv6 address that make one client for the gateway's per-IP request rate, in-flight cap, connection cap and failed-authentication ban (IPv4 addresses count whole); 64 as one site or device normally holds a /64, 128 for each address on its own", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 128 {
				return fmt.Errorf("%q: use a prefix length between 1 and 128", v)
			}
			c.GatewayIPv6Prefix = n
			return nil
		}},
		{"gateway-nonces-per-org", "PORTICO_GATEWAY_NONCES_PER_ORG", "262144", "unexpired X-Portico-Nonce values one organisation's keys may hold together (each is kept until its request expires; more get 429 nonce-capacity), so that no tenant fills the replay-protection store the others share; the in-process store holds 1048576", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1<<20 {
				return fmt.Errorf("%q: use a number of nonces between 1 and 1048576", v)
			}
			c.GatewayNoncesPerOrg = n
			return nil
		}},
		{"gateway-max-header-bytes", "PORTICO_GATEWAY_MAX_HEADER_BYTES", "65536", "largest request line and headers the gateway reads; larger requests get 431", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 4096 || n > 16<<20 {
				return fmt.Errorf("%q: use a number of bytes between 4096 and 16777216", v)
			}
			c.GatewayLimits.MaxHeaderBytes = n
			return nil
		}},
		{"gateway-http-server", "PORTICO_GATEWAY_HTTP_SERVER", "lean", "what serves the plain-HTTP gateway listener: lean (Portico's HTTP/1.1 server, about a tenth less CPU per request) or net/http (Go's standard server)", func(c *Config, v string) error {
			if _, err := gateway.NewPlainServer(v, nil, gateway.ServerLimits{}); err != nil {
				return err
			}
			c.GatewayHTTPServer = v
			return nil
		}},
		{"session-ttl", "PORTICO_SESSION_TTL", "168h", "how long a console login lasts", dur(func(c *Config) *time.Duration { return &c.SessionTTL })},
		{"shutdown-timeout", "PORTICO_SHUTDOWN_TIMEOUT", "30s", "how long a graceful shutdown waits for in-flight requests", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"allow-private-upstreams", "PORTICO_ALLOW_PRIVATE_UPSTREAMS", "auto", "let upstream URLs reach private, loopback and link-local addresses (SSRF guard off): true, false, or auto (on with SQLite, off with PostgreSQL)",
			autoBool(func(c *Config) **bool { return &c.AllowPrivateUpstreams })},
		{"custom-domain-any-issuer", "PORTICO_CUSTOM_DOMAIN_ANY_ISSUER", "auto", "accept a custom domain's certificate whatever issued it (a private CA, self-signed) instead of only one chaining to a trusted root, which proves the organisation controls the name: true, false, or auto (on with SQLite, off with PostgreSQL)",
			autoBool(func(c *Config) **bool { return &c.CustomDomainAnyIssuer })},
		{"demo", "PORTICO_DEMO", "false", "seed an empty database with a provider, a published echo API, a free plan and a subscribed partner app; write demo.json to the data dir and print a ready curl command", func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "true", "1", "yes", "on":
				c.Demo = true
			case "false", "0", "no", "off", "":
				c.Demo = false
			default:
				return fmt.Errorf("%q: use true or false", v)
			}
			return nil
		}},
		{"region", "PORTICO_REGION", "local", "region name in AK/SK credential scopes", str(func(c *Config) *string { return &c.Region })},
		{"gateway-domain", "PORTICO_GATEWAY_DOMAIN", "", "host name under which every organisation gets {org}.<domain> on the gateway (host-based routing {org}.<domain>/{api}/{version}/…; point a wildcard DNS record at the gateway); empty turns it off", func(c *Config, v string) error {
			d, err := parseGatewayDomain(v)
			c.GatewayDomain = d
			return err
		}},
		{"gateway-tls-addr", "PORTICO_GATEWAY_TLS_ADDR", "", "listen address of the gateway's TLS listener (TLS 1.2+, HTTP/2, custom domains' certificates by SNI); empty leaves TLS off", str(func(c *Config) *string { return &c.GatewayTLSAddr })},
		{"tls-cert-file", "PORTICO_TLS_CERT_FILE", "", "PEM certificate chain the TLS listener serves to names without a custom-domain certificate; read again within 30 s when the files change (renewals need no restart)", str(func(c *Config) *string { return &c.TLSCertFile })},
		{"tls-key-file", "PORTICO_TLS_KEY_FILE", "", "PEM private key of --tls-cert-file", str(func(c *Config) *string { return &c.TLSKeyFile })},
	}
}

// parseConfig reads defaults, then the environment, then flags.
func parseConfig(name string, args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	opts := options()
	for _, o := range opts {
		if err := o.set(c, o.def); err != nil {
			return nil, fmt.Errorf("default of --%s: %w", o.flag, err)
		}
	}
	for _, o := range opts {
		if v := getenv(o.env); v != "" {
			if err := o.set(c, v); err != nil {
				return nil, fmt.Errorf("%s: %w", o.env, err)
			}
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var flagErr error
	for _, o := range opts {
		o := o
		usage := fmt.Sprintf("%s (env %s, default %q)", o.help, o.env, o.def)
		if booleanFlags[o.flag] {
			fs.BoolFunc(o.flag, usage, func(v string) error { return o.set(c, v) })
			continue
		}
		fs.Func(o.flag, usage, func(v string) error {
			if err := o.set(c, v); err != nil {
				flagErr = fmt.Errorf("--%s: %w", o.flag, err)
				return flagErr
			}
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.PortalAddr
	}
	_, c.RebuildGCPercent = gwconfig.CollectorSettings(getenv)
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	switch c.LogFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("log format %q: use text or json", c.LogFormat)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return nil, errors.New("--tls-cert-file and --tls-key-file go together: set both or neither")
	}
	if c.TLSCertFile != "" && c.GatewayTLSAddr == "" {
		return nil, errors.New("--tls-cert-file is set but --gateway-tls-addr is not: set the TLS listener's address too")
	}
	return c, nil
}

// parseGatewayDomain checks and normalises the gateway domain: a bare host
// name (lower case, no trailing dot) with at least two labels, or
// "localhost" for local testing; "" is allowed and means none.
func parseGatewayDomain(v string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q is not a host name: %s (like gw.example.com)", v, why)
	}
	switch {
	case d == "":
		return "", nil
	case strings.Contains(d, "://"):
		return bad("leave out the scheme")
	case strings.ContainsAny(d, "/?#"):
		return bad("leave out the path")
	case strings.Contains(d, "@"):
		return bad("leave out the user")
	case strings.HasPrefix(d, "*.") || strings.HasPrefix(d, "."):
		return bad("give the domain itself, without a wildcard or leading dot")
	case net.ParseIP(strings.Trim(d, "[]")) != nil:
		return bad("use a DNS name, not an IP address")
	case strings.Contains(d, ":"):
		return bad("leave out the port; the gateway's listen addresses set the ports")
	case len(d) > 253:
		return bad("longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 && d != "localhost" {
		return bad("use a fully qualified name with a dot")
	}
	for _, l := range labels {
		if !domains.ValidLabel(l) {
			return bad("use letters, digits and dashes between dots, each part at most 63 characters and not starting or ending with a dash")
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return bad("the last part cannot be all digits")
	}
	return d, nil
}

// autoBool parses true, false or auto (nil: decided by the database, see
// onForSQLite) into the field get returns.
func autoBool(get func(*Config) **bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		var b *bool
		switch strings.ToLower(v) {
		case "auto", "":
		case "true", "1", "yes", "on":
			b = new(true)
		case "false", "0", "no", "off":
			b = new(false)
		default:
			return fmt.Errorf("%q: use true, false or auto", v)
		}
		*get(c) = b
		return nil
	}
}

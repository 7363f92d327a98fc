package domains

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strconv"
	"strings"
	"time"

	"github.com/portico-dev/portico/tenants"
)

// Limits on what a provider may paste.
const (
	maxChainBytes = 64 << 10
	maxChainCerts = 10
	maxKeyBytes   = 16 << 10
	minRSABits    = 2048
)

// material is a checked certificate: the chain and key re-encoded in
// canonical PEM (certificates only; the key as PKCS #8) and the parsed leaf.
type material struct {
	chainPEM string
	keyPEM   string
	leaf     *x509.Certificate
}

// parseChain parses PEM text holding certificates only, leaf first.
func parseChain(text string) ([]*x509.Certificate, error) {
	bad := func(msg string) ([]*x509.Certificate, error) { return nil, tenants.FieldError("certificate", msg) }
	if len(text) > maxChainBytes {
		return bad("The certificate chain is larger than 64 KiB.")
	}
	rest := []byte(text)
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return bad("The certificate field holds a private key; paste the key in the private key field and the certificates (BEGIN CERTIFICATE) here.")
		case b.Type != "CERTIFICATE":
			return bad("The certificate field holds a " + b.Type + " block; paste PEM certificates only (BEGIN CERTIFICATE), the leaf first.")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return bad("Certificate " + strconv.Itoa(len(certs)+1) + " in the chain does not parse as X.509.")
		}
		certs = append(certs, c)
		if len(certs) > maxChainCerts {
			return bad("The chain has more than 10 certificates.")
		}
	}
	if len(certs) == 0 {
		return bad("Paste the certificate chain in PEM form (-----BEGIN CERTIFICATE-----), the leaf first, then its intermediates.")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return bad("The certificate field has text after the last PEM block that is not a certificate.")
	}
	return certs, nil
}

// parseKey parses a PEM private key of a supported type.
func parseKey(text string) (crypto.Signer, error) {
	bad := func(msg string) (crypto.Signer, error) { return nil, tenants.FieldError("private_key", msg) }
	if len(text) > maxKeyBytes {
		return bad("The private key is larger than 16 KiB.")
	}
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return bad("Paste the private key in PEM form (-----BEGIN PRIVATE KEY-----), unencrypted.")
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
			return bad("The private key is encrypted; paste it unencrypted (for example: openssl pkey -in key.pem).")
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			if b.Type == "CERTIFICATE" {
				return bad("The private key field holds a certificate; paste the certificate in the certificate field.")
			}
			continue // such as EC PARAMETERS before an EC key
		}
		var k any
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		}
		if err != nil {
			return bad("The private key does not parse (PKCS #8, PKCS #1 RSA or SEC 1 EC expected).")
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() < minRSABits {
				return bad("The RSA key is shorter than 2048 bits.")
			}
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return bad("Use an RSA, ECDSA or Ed25519 private key.")
		}
	}
}

// checkCertificate checks a chain and key for host (skipped when host is
// ""): the chain parses and is in order, the leaf covers host and has not
// expired at now, and the key matches the leaf. Errors are field errors on
// "certificate" and "private_key" and never quote the key.
func checkCertificate(host, chainText, keyText string, now time.Time, trust *x509.VerifyOptions) (material, error) {
	v := tenants.Validation{}
	certs, err := parseChain(chainText)
	if err != nil {
		v.Add("certificate", tenants.ErrorMessage(err))
	}
	key, err := parseKey(keyText)
	if err != nil {
		v.Add("private_key", tenants.ErrorMessage(err))
	}
	if len(certs) == 0 {
		return material{}, v.Err()
	}
	leaf := certs[0]
	switch {
	case !now.Before(leaf.NotAfter):
		v.Add("certificate", "The certificate expired on "+leaf.NotAfter.UTC().Format("2006-01-02")+"; paste a current one.")
	case host != "" && leaf.VerifyHostname(host) != nil:
		names := strings.Join(leaf.DNSNames, ", ")
		if names == "" {
			names = "no DNS names"
		}
		v.Add("certificate", "The certificate does not cover "+host+" (it is for "+names+").")
	}
	for i := 1; i < len(certs); i++ {
		if certs[i-1].CheckSignatureFrom(certs[i]) != nil {
			v.Add("certificate", "Certificate "+strconv.Itoa(i)+" is not signed by certificate "+strconv.Itoa(i+1)+": put the leaf first, then each issuer in order.")
			break
		}
	}
	if trust != nil && host != "" && v.Err() == nil {
		// Proof of control: an issuer the roots trust vouched for the
		// name (see Options.AnyIssuer).
		opts := *trust
		opts.DNSName, opts.CurrentTime = host, now
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := leaf.Verify(opts); err != nil {
			v.Add("certificate", "The certificate is not issued by a trusted certificate authority ("+clipErr(err)+"). A custom domain needs a certificate a public CA issued for it, such as Let's Encrypt's, which shows the domain is yours; paste the leaf first, then its intermediate certificates.")
		}
	}
	if key != nil {
		pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(key.Public()) {
			v.Add("private_key", "The private key does not match the certificate.")
		}
	}
	if err := v.Err(); err != nil {
		return material{}, err
	}
	var chain strings.Builder
	for _, c := range certs {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return material{}, tenants.FieldError("private_key", "The private key cannot be stored (PKCS #8 encoding failed).")
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if _, err := tls.X509KeyPair([]byte(chain.String()), []byte(keyPEM)); err != nil {
		return material{}, tenants.FieldError("private_key", "The certificate and key cannot be used together for TLS.")
	}
	return material{chainPEM: chain.String(), keyPEM: keyPEM, leaf: leaf}, nil
}

func describe(c *x509.Certificate) CertificateInfo {
	return CertificateInfo{Subject: c.Subject.String(), DNSNames: append([]string{}, c.DNSNames...), Issuer: c.Issuer.String(),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), Fingerprint: fingerprint(c)}
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// clipErr is a certificate verification error's text, bounded: it names
// the certificate's subject and issuer, which the uploader chose.
func clipErr(err error) string {
	m := err.Error()
	if len(m) > 200 {
		m = m[:200] + "…"
	}
	return m
}

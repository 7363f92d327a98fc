package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPresignedParamNamesNotEncoded: a presigned URL whose X-Amz- parameter
// names are percent-encoded (X%2DAmz-Signature) is refused, naming the
// parameter: whatever strips the presigned parameters before a request is
// forwarded looks for them as sent, so an encoded one would carry the
// signature on to the backend. Other parameters may be encoded as the
// client likes.
func TestPresignedParamNamesNotEncoded(t *testing.T) {
	v := newTestVerifier(t)
	r, _ := http.NewRequest("GET", base+"/f?a%2Db=1", nil)
	u, err := (&Signer{}).Presign(r, testAK, testSecret, "", testTime, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(u string) error {
		r, _ := http.NewRequest("GET", u, nil)
		_, err := v.Verify(context.Background(), toServer(t, r), "", VerifyOptions{})
		return err
	}
	if err := verify(u); err != nil {
		t.Fatalf("as signed: %v", err)
	}
	for _, p := range []string{"Credential", "Date", "Expires", "SignedHeaders", "Signature"} {
		for _, enc := range []string{"X%2DAmz-" + p, "X-Amz-" + p[:len(p)-1] + "%" + strings.ToLower(hexByte(p[len(p)-1]))} {
			t.Run(enc, func(t *testing.T) {
				e := wantProblem(t, verify(strings.Replace(u, "X-Amz-"+p+"=", enc+"=", 1)), TypeMalformedAuthorization, 400)
				if !strings.Contains(e.Detail, "X-Amz-"+p) || !strings.Contains(e.Detail, "encoded") {
					t.Fatalf("detail %q does not say which name is encoded", e.Detail)
				}
			})
		}
	}
}

func hexByte(c byte) string { return string([]byte{upperHex[c>>4], upperHex[c&15]}) }

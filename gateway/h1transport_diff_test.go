package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// diffEnd is what connection 1 of a scripted upstream does once its
// script is played.
type diffEnd int

const (
	// endKeep serves every further request on the connection with the
	// "again" answer, as a keep-alive server would.
	endKeep diffEnd = iota
	// endClose closes the connection.
	endClose
	// endCloseWrite half-closes it (FIN) and keeps reading.
	endCloseWrite
	// endReset resets it (RST) after a pause that lets the client read
	// what was sent.
	endReset
)

// diffExchange is one request on connection 1 and the bytes the upstream
// answers it with.
type diffExchange struct {
	answer string
	// later is written in a write of its own 30 ms after answer: the
	// rest of a split answer, or bytes that arrive while the client has
	// (or should have) pooled the connection.
	later string
	// early answers after the request's head, without reading its body.
	early bool
}

// diffReq is one call a case sends.
type diffReq struct {
	method, body string
	// trace hands 1xx answers to httptrace (net/http reports them, and
	// then no longer counts their headers against its limit).
	trace bool
}

// h1DiffCase is one differential case. want is h1Transport's outcome for
// each call, and net/http's too unless nethttp lists net/http's where it
// differs for an accepted reason (why). probe is the answer a GET sent
// after the case's calls must get: "again" when it reuses connection 1,
// "fresh" on a new connection (nethttpProbe: net/http's, where it differs).
type h1DiffCase struct {
	name   string
	reqs   []diffReq // default: one GET
	script []diffExchange
	end    diffEnd
	want   []string
	probe  string
	// Accepted differences.
	nethttp      []string
	nethttpProbe string
	why          string
}

const (
	// answerAgain and answerFresh hold words no case's script contains,
	// so a probe can tell its own answer from a leftover.
	answerAgain = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Conn: again\r\n\r\nagain"
	answerFresh = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Conn: fresh\r\n\r\nfresh"
	ok2         = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	// leak is a whole answer sent where none was asked for: a client
	// that reads it as the next call's answer hands "secret" to it.
	leak     = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret"
	hdrLimit = 10 << 20 // net/http's default MaxResponseHeaderBytes
)

// h1DiffCases is the differential table, also the fuzz test's seeds.
func h1DiffCases() []h1DiffCase {
	post := []diffReq{{method: "POST", body: "payload"}}
	getGet := []diffReq{{method: "GET"}, {method: "GET"}}
	fail := []string{"error"}
	ex := func(answers ...string) []diffExchange {
		s := make([]diffExchange, len(answers))
		for i, a := range answers {
			s[i].answer = a
		}
		return s
	}
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	// teCL heads a chunked answer that also carries a Content-Length.
	teCL := func(n int) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n", n)
	}
	abc := "3\r\nabc\r\n0\r\n\r\n"
	r408 := "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
	r408close := "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	const why408 = "h1Transport sends an idempotent call a 408 answered on a reused connection again on a fresh one (RFC 9110 §15.5.9); net/http only drops a 408 that comes before the request is sent"
	const whyTECL = "RFC 9112 §6.3: an answer with Transfer-Encoding and Content-Length may be a smuggling attempt; h1Transport closes its connection, net/http keeps it"
	return []h1DiffCase{
		// Content-Length framing.
		{name: "content-length exact", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"),
			want: []string{`200 "hello"`}, probe: "again"},
		{name: "head and body split across delayed writes", script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nContent-Le", later: "ngth: 5\r\n\r\nhello"}},
			want: []string{`200 "hello"`}, probe: "again"},
		{name: "body split across delayed writes", script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", later: "llo"}},
			want: []string{`200 "hello"`}, probe: "again"},
		{name: "content-length zero", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			want: []string{`200 ""`}, probe: "again"},
		{name: "content-length short, server closes early", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"), end: endClose,
			want: []string{`200 "hel" bodyerr`}, probe: "fresh"},
		{name: "content-length short, server half-closes", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"), end: endCloseWrite,
			want: []string{`200 "hel" bodyerr`}, probe: "fresh"},
		{name: "content-length long, extra answer in the same write", script: ex(ok2 + leak),
			want: []string{`200 "ok"`}, probe: "fresh"},
		{name: "content-length long, extra answer after a body larger than the read buffer",
			script: ex("HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n" + strings.Repeat("b", 6000) + leak),
			want:   []string{fmt.Sprintf(`200 %q`, strings.Repeat("b", 6000))}, probe: "fresh"},
		{name: "content-length long, extra answer in a later write", script: []diffExchange{{answer: ok2, later: leak}},
			want: []string{`200 "ok"`}, probe: "fresh"},
		{name: "content-length zero followed by bytes", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + leak),
			want: []string{`200 ""`}, probe: "fresh"},
		{name: "duplicate equal content-length", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "duplicate differing content-length", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 8\r\n\r\nok" + leak),
			want: fail, probe: "fresh"},
		{name: "content-length list in one field", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "signed content-length", script: ex("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "negative content-length", script: ex("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok"),
			want: fail, probe: "fresh"},

		// Chunked framing.
		{name: "chunked with extensions and trailers",
			script: ex(chunked[:len(chunked)-2] + "Trailer: X-T\r\n\r\n3;ext=1\r\nabc\r\n2;a=\"b c\";x\r\nde\r\n0;last\r\nX-T: v\r\n\r\n"),
			want:   []string{`200 "abcde" trailer=X-T:v`}, probe: "again"},
		{name: "chunked with bytes after the last chunk", script: ex(chunked + "3\r\nabc\r\n0\r\n\r\n" + leak),
			want: []string{`200 "abc"`}, probe: "fresh"},
		{name: "chunked with a non-hex chunk size", script: ex(chunked + "3\r\nabc\r\nzz\r\n" + leak),
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		{name: "chunked with an overflowing chunk size", script: ex(chunked + "fffffffffffffffff\r\n" + leak),
			want: []string{`200 "" bodyerr`}, probe: "fresh"},
		{name: "chunked with a negative chunk size", script: ex(chunked + "-1\r\n" + leak),
			want: []string{`200 "" bodyerr`}, probe: "fresh"},
		{name: "chunked with data longer than its size", script: ex(chunked + "3\r\nabcX\r\n0\r\n\r\n"),
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		{name: "chunked with a malformed trailer", script: ex(chunked + "3\r\nabc\r\n0\r\nNo Colon\r\n\r\n"),
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		{name: "chunked split across delayed writes", script: []diffExchange{{answer: chunked + "3\r\nab", later: "c\r\n0\r\n\r\n"}},
			want: []string{`200 "abc"`}, probe: "again"},
		{name: "chunked without the final CRLF, server closes", script: ex(chunked + "3\r\nabc\r\n0\r\n"), end: endClose,
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		{name: "chunked without the last chunk, server closes", script: ex(chunked + "3\r\nabc\r\n"), end: endClose,
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},

		// Transfer-Encoding and Content-Length together: chunked framing
		// wins, and the answer may be a smuggling attempt (RFC 9112 §6.3):
		// a hop that framed it by its Content-Length sees another answer
		// where this one ends, so the connection is not used again.
		{name: "chunked and content-length: chunked wins", script: ex(teCL(100) + abc),
			want: []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "content-length before transfer-encoding, in lower case",
			script: ex("HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n" + abc),
			want:   []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked and a content-length with a space before the colon",
			script: ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length : 100\r\n\r\n" + abc),
			want:   []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked and a larger content-length, smuggled answer in the same write",
			script: ex(teCL(len(abc)+len(leak)) + abc + leak),
			want:   []string{`200 "abc"`}, probe: "fresh"},
		{name: "chunked and a larger content-length, smuggled answer in a later write",
			script: []diffExchange{{answer: teCL(len(abc)+len(leak)) + abc, later: leak}},
			want:   []string{`200 "abc"`}, probe: "fresh"},
		{name: "chunked and a smaller content-length", script: ex(teCL(3) + abc),
			want: []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked and a smaller content-length, smuggled answer in a later write",
			script: []diffExchange{{answer: teCL(3) + abc, later: leak}},
			want:   []string{`200 "abc"`}, probe: "fresh"},
		{name: "chunked and content-length, smuggled answer in the chunk data",
			script: ex(teCL(0) + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(leak), leak)),
			want:   []string{fmt.Sprintf("200 %q", leak)}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked and content-length, head split across delayed writes",
			script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Le", later: "ngth: 100\r\n\r\n" + abc}},
			want:   []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked, head split across delayed writes",
			script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chu", later: "nked\r\nX-A: 1\r\n\r\n" + abc}},
			want:   []string{`200 "abc"`}, probe: "again"},
		{name: "chunked, head split across delayed writes at its end",
			script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", later: "\r\n" + abc}},
			want:   []string{`200 "abc"`}, probe: "again"},
		{name: "chunked, head larger than the read buffer",
			script: ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Big: " + strings.Repeat("h", 5000) + "\r\n\r\n" + abc),
			want:   []string{`200 "abc"`}, probe: "fresh", nethttpProbe: "again",
			why: "h1Transport checks a chunked answer's head for a Content-Length in its read buffer; a head larger than the buffer cannot be checked, so the connection is not kept: a new connection, never a wrong answer"},
		{name: "chunked and content-length answering HEAD", reqs: []diffReq{{method: "HEAD"}}, script: ex(teCL(100)),
			want: []string{`200 ""`}, probe: "fresh", nethttpProbe: "again", why: whyTECL},
		{name: "chunked with a content-length trailer", script: ex(chunked + "3\r\nabc\r\n0\r\nContent-Length: 100\r\n\r\n"),
			want: []string{`200 "abc" trailer=Content-Length:100`}, probe: "again"},
		{name: "chunked with a content-length lookalike in a folded header",
			script: ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: a\r\n Content-Length: 100\r\n\r\n" + abc),
			want:   []string{`200 "abc"`}, probe: "again"},
		{name: "transfer-encoding other than chunked", script: ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
			want: fail, probe: "fresh"},
		{name: "transfer-encoding chunked twice", script: ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
			want: fail, probe: "fresh"},

		// Close-delimited bodies and HTTP/1.0.
		{name: "close-delimited body", script: ex("HTTP/1.1 200 OK\r\n\r\nuntil close"), end: endClose,
			want: []string{`200 "until close"`}, probe: "fresh"},
		{name: "close-delimited body, server half-closes", script: ex("HTTP/1.1 200 OK\r\n\r\nuntil close"), end: endCloseWrite,
			want: []string{`200 "until close"`}, probe: "fresh"},
		{name: "HTTP/1.0 without keep-alive", script: ex("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "fresh"},
		{name: "HTTP/1.0 close-delimited", script: ex("HTTP/1.0 200 OK\r\n\r\nuntil close"), end: endClose,
			want: []string{`200 "until close"`}, probe: "fresh"},
		{name: "HTTP/1.0 ignores chunked", script: ex("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), end: endClose,
			want: []string{`200 "3\r\nabc\r\n0\r\n\r\n"`}, probe: "fresh"},
		{name: "HTTP/1.0 with keep-alive", script: ex("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "fresh", nethttpProbe: "again",
			why: "h1Transport keeps only HTTP/1.1 connections alive: a new connection, never a wrong answer"},
		{name: "connection close", script: ex("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "fresh"},

		// Answers that have no body although bytes follow.
		{name: "HEAD answered with a body", reqs: []diffReq{{method: "HEAD"}},
			script: ex("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n" + leak),
			want:   []string{`200 ""`}, probe: "fresh"},
		{name: "HEAD answered with a body in a later write", reqs: []diffReq{{method: "HEAD"}},
			script: []diffExchange{{answer: "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", later: leak}},
			want:   []string{`200 ""`}, probe: "fresh"},
		{name: "204 with a body", script: ex("HTTP/1.1 204 No Content\r\nContent-Length: 6\r\n\r\n" + leak),
			want: []string{`204 ""`}, probe: "fresh"},
		{name: "304 with a body in a later write", script: []diffExchange{{answer: "HTTP/1.1 304 Not Modified\r\n\r\n", later: leak}},
			want: []string{`304 ""`}, probe: "fresh"},

		// Status lines: 1xx, 101, malformed.
		{name: "100 and 103 before the final answer", reqs: []diffReq{{method: "POST", body: "payload", trace: true}},
			script: ex("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok2),
			want:   []string{`200 "ok" 1xx=2`}, probe: "again"},
		{name: "nine 1xx before the final answer", script: ex(strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 9) + ok2),
			want: []string{"error: too many 1xx"}, probe: "fresh",
			nethttp: []string{`200 "ok"`}, nethttpProbe: "again", why: "h1Transport bounds the number of 1xx answers"},
		{name: "1xx then the server closes", script: ex("HTTP/1.1 100 Continue\r\n\r\n"), end: endClose,
			want: fail, probe: "fresh"},
		{name: "101 with upgrade headers to a plain request",
			script: ex("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nraw " + leak), end: endClose,
			want: []string{"error: unexpected 101"}, probe: "fresh",
			nethttp: []string{fmt.Sprintf("101 %q", "raw "+leak)}, why: "h1Transport refuses a switch it did not ask for; net/http hands over the raw connection"},
		{name: "101 without upgrade headers to a plain request", script: ex("HTTP/1.1 101 Switching Protocols\r\n\r\n" + leak),
			want: []string{"error: unexpected 101"}, probe: "fresh",
			nethttp: []string{`101 ""`}, why: "h1Transport refuses a switch it did not ask for"},
		{name: "status code below 100", script: ex(fmt.Sprintf("HTTP/1.1 099 Odd\r\nContent-Length: %d\r\n\r\n%s", len(leak), leak)),
			want: []string{"error: malformed status"}, probe: "fresh",
			nethttp: []string{fmt.Sprintf("99 %q", leak)}, why: "a status below 100 cannot be relayed; h1Transport once took it for a 1xx and read its body as the answer"},
		{name: "status code with a plus sign", script: ex("HTTP/1.1 +99 Odd\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{"error: malformed status"}, probe: "fresh",
			nethttp: []string{`99 "ok"`}, why: "a status below 100 cannot be relayed; h1Transport once took it for a 1xx and waited for another answer"},
		{name: "garbage status line", script: ex("HTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "status line without a code", script: ex("HTTP/1.1\r\n\r\n"),
			want: fail, probe: "fresh"},
		{name: "two-digit status code", script: ex("HTTP/1.1 20 OK\r\n\r\n"),
			want: fail, probe: "fresh"},
		{name: "blank line before the status line", script: ex("\r\n" + ok2),
			want: fail, probe: "fresh"},
		{name: "HTTP/0.9 answer", script: ex("hello"), end: endClose,
			want: fail, probe: "fresh"},

		// Header fields.
		{name: "header line without colon", script: ex("HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "header name with a space before the colon", script: ex("HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "obs-fold header", script: ex("HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "obs-fold first header line", script: ex("HTTP/1.1 200 OK\r\n X-Fold: a\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		// Bytes a field may not hold: ReadResponse refuses the answer (the
		// gateway answers 502), so none of them can reach the client,
		// whose server writes values as they are but for CR and LF.
		{name: "NUL in a header value", script: ex("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "bare CR in a header value", script: ex("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "bare CR ending a header value", script: ex("HTTP/1.1 200 OK\r\nX-A: a\r\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "bare CR ending a header line then a smuggled field", script: ex("HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 8\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "other control bytes in a header value", script: ex("HTTP/1.1 200 OK\r\nX-A: a\x01\x1b\x7fb\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "NUL in a header name", script: ex("HTTP/1.1 200 OK\r\nX-\x00A: 1\r\nContent-Length: 2\r\n\r\nok"),
			want: fail, probe: "fresh"},
		{name: "obs-text and a tab in a header value", script: ex("HTTP/1.1 200 OK\r\nX-A: a\xff\tb\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "NUL in a trailer value", script: ex(chunked + "3\r\nabc\r\n0\r\nX-T: a\x00b\r\n\r\n"),
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		{name: "bare CR in a trailer value", script: ex(chunked + "3\r\nabc\r\n0\r\nX-T: a\rb\r\n\r\n"),
			want: []string{`200 "abc" bodyerr`}, probe: "fresh"},
		// A name with a space before the colon is taken, as net/http takes
		// it, under that name: the client's server must drop it, as
		// net/http's Header.Write drops every invalid name.
		{name: "trailer name with a space before the colon", script: ex(chunked + "3\r\nabc\r\n0\r\nX-T : v\r\n\r\n"),
			want: []string{`200 "abc" trailer=X-T :v`}, probe: "again"},
		{name: "bare LF line endings", script: ex("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "long header under the limit", script: ex("HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("l", 1<<20) + "\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{`200 "ok"`}, probe: "again"},
		{name: "header over the limit", script: ex("HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("l", hdrLimit+1) + "\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{"error: exceeded"}, probe: "fresh"},
		{name: "status line over the limit", script: ex("HTTP/1.1 200 " + strings.Repeat("O", hdrLimit+1) + "\r\nContent-Length: 2\r\n\r\nok"),
			want: []string{"error: exceeded"}, probe: "fresh"},
		{name: "1xx headers together over the limit", script: ex(strings.Repeat("HTTP/1.1 103 Early Hints\r\nX-Long: "+strings.Repeat("l", hdrLimit/4)+"\r\n\r\n", 6) + ok2),
			want: []string{"error: exceeded"}, probe: "fresh"},

		// The server fails before or while answering.
		{name: "server closes before answering a fresh GET", script: ex(""), end: endClose,
			want: fail, probe: "fresh"},
		{name: "server closes before answering a fresh POST", reqs: post, script: ex(""), end: endClose,
			want: fail, probe: "fresh"},
		{name: "server closes without answering a GET on a reused connection", reqs: getGet, script: ex(ok2, ""), end: endClose,
			want: []string{`200 "ok"`, `200 "fresh"`}, probe: "fresh"},
		{name: "server closes without answering a POST on a reused connection", reqs: []diffReq{{method: "GET"}, {method: "POST", body: "payload"}},
			script: ex(ok2, ""), end: endClose,
			want: []string{`200 "ok"`, "error"}, probe: "fresh"},
		{name: "server closes without answering a PUT on a reused connection", reqs: []diffReq{{method: "GET"}, {method: "PUT", body: "payload"}},
			script: ex(ok2, ""), end: endClose,
			want: []string{`200 "ok"`, `200 "fresh"`}, probe: "fresh",
			nethttp: []string{`200 "ok"`, "error"}, why: "h1Transport resends every idempotent method, as forward does; net/http only GET, HEAD, OPTIONS, TRACE"},
		{name: "server resets before answering a fresh GET", script: ex(""), end: endReset,
			want: fail, probe: "fresh"},
		{name: "server resets without answering a GET on a reused connection", reqs: getGet, script: ex(ok2, ""), end: endReset,
			want: []string{`200 "ok"`, `200 "fresh"`}, probe: "fresh"},
		{name: "server resets mid-body", script: ex("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"), end: endReset,
			want: []string{`200 "0123456789" bodyerr`}, probe: "fresh"},
		{name: "server resets mid-chunk", script: ex(chunked + "a\r\n01234"), end: endReset,
			want: []string{`200 "01234" bodyerr`}, probe: "fresh"},
		{name: "server half-closes after a keep-alive answer", script: ex(ok2), end: endCloseWrite,
			want: []string{`200 "ok"`}, probe: "fresh"},

		// 408 Request Timeout: servers send it on an idle keep-alive
		// connection they time out. Already there when the connection is
		// taken, it is dropped by both; crossing a request (see
		// TestH1Transport408CrossingTheRequest for the exact timing) it
		// reads like the answer.
		{name: "408 on the idle connection", script: []diffExchange{{answer: ok2, later: r408}},
			want: []string{`200 "ok"`}, probe: "fresh"},
		{name: "408 and close on the idle connection", script: []diffExchange{{answer: ok2, later: r408close}}, end: endClose,
			want: []string{`200 "ok"`}, probe: "fresh"},
		{name: "408 answering a GET on a reused connection", reqs: getGet, script: ex(ok2, r408close), end: endClose,
			want: []string{`200 "ok"`, `200 "fresh"`}, probe: "fresh",
			nethttp: []string{`200 "ok"`, `408 ""`}, why: why408},
		{name: "408 answering a POST on a reused connection", reqs: []diffReq{{method: "GET"}, {method: "POST", body: "payload"}},
			script: ex(ok2, r408close), end: endClose,
			want: []string{`200 "ok"`, `408 ""`}, probe: "fresh"},
		{name: "408 without close answering a POST on a reused connection", reqs: []diffReq{{method: "GET"}, {method: "POST", body: "payload"}},
			script: ex(ok2, r408),
			want:   []string{`200 "ok"`, `408 ""`}, probe: "fresh", nethttpProbe: "again",
			why: "h1Transport keeps no connection that answered 408: the server timed out waiting for a request, so the 408 may not be this request's answer"},
		{name: "408 answering a GET on a fresh connection", script: ex(r408close), end: endClose,
			want: []string{`408 ""`}, probe: "fresh"},

		// Request framing (the server records what it read).
		{name: "GET without a body", script: ex(ok2), want: []string{`200 "ok"`}, probe: "again"},
		{name: "POST with a Content-Length body", reqs: post, script: ex(ok2), want: []string{`200 "ok"`}, probe: "again"},
		{name: "POST without a body", reqs: []diffReq{{method: "POST"}}, script: ex(ok2), want: []string{`200 "ok"`}, probe: "again"},
		{name: "DELETE without a body", reqs: []diffReq{{method: "DELETE"}}, script: ex(ok2), want: []string{`200 "ok"`}, probe: "again"},
		{name: "early answer to a large upload, then reset", reqs: []diffReq{{method: "POST", body: strings.Repeat("u", 8<<20)}},
			script: []diffExchange{{answer: "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 7\r\n\r\ntoo big", early: true}},
			end:    endReset, want: []string{`413 "too big"`}, probe: "fresh"},
	}
}

// diffUpstream is a scripted upstream for one transport's run of a case:
// connection 1 plays the script, then ends as told; every later
// connection answers each request with answerFresh.
type diffUpstream struct {
	*scriptedServer
	played chan int // the index of each exchange once its bytes are sent
	mu     sync.Mutex
	seen   []string // the requests connection 1 read, summarized
}

// newDiffUpstream starts the upstream that plays tc.
func newDiffUpstream(t *testing.T, tc h1DiffCase) *diffUpstream {
	u := &diffUpstream{played: make(chan int, len(tc.script))}
	u.scriptedServer = newScriptedServer(t, func(c net.Conn, n int32) {
		br := bufio.NewReader(c)
		if n > 1 {
			serveAnswer(br, c, answerFresh)
			return
		}
		for i, ex := range tc.script {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := "(unread)"
			if !ex.early {
				b, _ := io.ReadAll(req.Body)
				body = string(b)
			}
			u.mu.Lock()
			u.seen = append(u.seen, fmt.Sprintf("%s %s cl=%d te=%v close=%v body=%.20q", req.Method, req.RequestURI,
				req.ContentLength, req.TransferEncoding, req.Close, body))
			u.mu.Unlock()
			io.WriteString(c, ex.answer)
			if ex.later != "" {
				time.Sleep(30 * time.Millisecond)
				io.WriteString(c, ex.later)
			}
			u.played <- i
		}
		switch tc.end {
		case endKeep:
			serveAnswer(br, c, answerAgain)
		case endCloseWrite:
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
		case endReset:
			time.Sleep(50 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
		}
	})
	return u
}

// serveAnswer answers every request read from br with answer.
func serveAnswer(br *bufio.Reader, c net.Conn, answer string) {
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		if _, err := io.WriteString(c, answer); err != nil {
			return
		}
	}
}

// seenRequests is what connection 1 has read so far.
func (u *diffUpstream) seenRequests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// diffResult is one call's outcome as the comparison sees it.
type diffResult struct {
	sum    string // `200 "body"` [trailer=K:v] [1xx=N] [bodyerr], or "error"
	err    error  // the RoundTrip error
	header http.Header
	cl     int64
	te     []string
	close  bool
}

// matches reports whether r is the outcome want describes: an answer
// summary, "error", or "error: text" for an error containing text.
func (r diffResult) matches(want string) bool {
	if r.sum != "error" {
		return r.sum == want
	}
	if want == "error" {
		return true
	}
	text, ok := strings.CutPrefix(want, "error: ")
	return ok && strings.Contains(r.err.Error(), text)
}

func (r diffResult) String() string {
	if r.err != nil {
		return r.sum + ": " + r.err.Error()
	}
	return r.sum
}

// diffCall sends one request and reads its whole answer, within a
// deadline: running into it is reported as a hang, which no case expects.
func diffCall(tr http.RoundTripper, url string, r diffReq) diffResult {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n1xx int
	if r.trace {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			Got1xxResponse: func(int, textproto.MIMEHeader) error { n1xx++; return nil },
		})
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, url, body)
	if err != nil {
		panic(err)
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return diffResult{sum: "hang", err: err}
		}
		return diffResult{sum: "error", err: err}
	}
	defer res.Body.Close()
	// Read as ReverseProxy does, with a buffer larger than the
	// transport's: reads past its buffer go straight to the socket.
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, rerr := res.Body.Read(buf)
		b = append(b, buf[:n]...)
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	if ctx.Err() != nil {
		return diffResult{sum: "hang", err: ctx.Err()}
	}
	sum := fmt.Sprintf("%d %q", res.StatusCode, b)
	if len(res.Trailer) > 0 {
		var kv []string
		for k, vv := range res.Trailer {
			kv = append(kv, k+":"+strings.Join(vv, ","))
		}
		slices.Sort(kv)
		sum += " trailer=" + strings.Join(kv, ";")
	}
	if n1xx > 0 {
		sum += fmt.Sprintf(" 1xx=%d", n1xx)
	}
	if err != nil {
		sum += " bodyerr"
	}
	hd := res.Header.Clone()
	hd.Del("X-Conn")
	return diffResult{sum: sum, header: hd, cl: res.ContentLength, te: res.TransferEncoding, close: res.Close}
}

// diffRun is one transport's run of a case.
type diffRun struct {
	calls []diffResult
	seen  []string
	probe diffResult
}

// runDiffCase plays tc against tr on an upstream of its own: the case's
// calls, then a probe GET that must get its own answer.
func runDiffCase(t *testing.T, tc h1DiffCase, tr http.RoundTripper) diffRun {
	u := newDiffUpstream(t, tc)
	reqs := tc.reqs
	if reqs == nil {
		reqs = []diffReq{{method: "GET"}}
	}
	var run diffRun
	for i, r := range reqs {
		run.calls = append(run.calls, diffCall(tr, u.URL(), r))
		if i < len(tc.script) {
			// Let the exchange's later bytes land in the idle connection
			// before the next call.
			select {
			case <-u.played:
			case <-time.After(2 * time.Second):
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	run.seen = u.seenRequests()
	run.probe = diffCall(tr, u.URL(), diffReq{method: "GET"})
	return run
}

// TestH1TransportMatchesNetHTTP replays each scripted answer to
// net/http's Transport and to h1Transport: both must agree (or differ
// only as the case accepts), and neither may hand a later call bytes left
// over from an earlier answer.
func TestH1TransportMatchesNetHTTP(t *testing.T) {
	for _, tc := range h1DiffCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if (tc.nethttp != nil || tc.nethttpProbe != "") != (tc.why != "") {
				t.Fatal("an accepted difference needs both net/http's outcome and why")
			}
			if n := max(len(tc.reqs), 1); len(tc.want) != n || tc.nethttp != nil && len(tc.nethttp) != n ||
				tc.probe != "again" && tc.probe != "fresh" {
				t.Fatal("the case needs one outcome per call and a probe answer")
			}
			std := &http.Transport{Proxy: nil, DisableCompression: true}
			t.Cleanup(std.CloseIdleConnections)
			h1, _ := newTestH1(t)
			nh := runDiffCase(t, tc, std)
			hr := runDiffCase(t, tc, h1)

			wantNet, probeNet := tc.want, tc.probe
			if tc.nethttp != nil {
				wantNet = tc.nethttp
			}
			if tc.nethttpProbe != "" {
				probeNet = tc.nethttpProbe
			}
			for i, w := range tc.want {
				if !hr.calls[i].matches(w) {
					t.Errorf("call %d: h1Transport got %v, want %s", i, hr.calls[i], w)
				}
				if !nh.calls[i].matches(wantNet[i]) {
					t.Errorf("call %d: net/http got %v, want %s", i, nh.calls[i], wantNet[i])
				}
				a, b := hr.calls[i], nh.calls[i]
				if a.err == nil && b.err == nil && a.sum == b.sum &&
					(!reflect.DeepEqual(a.header, b.header) || a.cl != b.cl || !slices.Equal(a.te, b.te) || a.close != b.close) {
					t.Errorf("call %d: response fields differ:\nh1Transport header=%v cl=%d te=%v close=%v\nnet/http    header=%v cl=%d te=%v close=%v",
						i, a.header, a.cl, a.te, a.close, b.header, b.cl, b.te, b.close)
				}
			}
			if !slices.Equal(hr.seen, nh.seen) {
				t.Errorf("the upstream read different requests:\nh1Transport %q\nnet/http    %q", hr.seen, nh.seen)
			}
			// Connection safety: the probe gets its own answer.
			if want := `200 "` + tc.probe + `"`; hr.probe.String() != want {
				t.Errorf("probe: h1Transport got %v, want %s", hr.probe, want)
			}
			if want := `200 "` + probeNet + `"`; nh.probe.String() != want {
				t.Errorf("probe: net/http got %v, want %s", nh.probe, want)
			}
		})
	}
}

// FuzzH1TransportResponse feeds arbitrary answer bytes to one GET, then
// sends a second GET on the same transport: h1Transport must neither
// panic nor hang, and the second GET must get its own answer or an
// error, never bytes of the first answer.
func FuzzH1TransportResponse(f *testing.F) {
	for _, tc := range h1DiffCases() {
		for _, ex := range tc.script {
			if a := ex.answer + ex.later; len(a) <= 64<<10 {
				f.Add([]byte(a))
			}
		}
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > 64<<10 {
			return // larger answers test nothing smaller ones do not
		}
		// The distinct answers carry a nonce so fuzzed bytes cannot
		// forge them.
		var nb [8]byte
		rand.Read(nb[:])
		nonce := hex.EncodeToString(nb[:])
		again := "again-" + nonce
		fresh := "fresh-" + nonce
		s := newScriptedServer(t, func(c net.Conn, n int32) {
			br := bufio.NewReader(c)
			if n > 1 {
				serveAnswer(br, c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(fresh), fresh))
				return
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			c.Write(answer)
			// A client still waiting on the answer gets the close; one
			// that reuses the connection gets an answer of its own.
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := br.Peek(1); err != nil {
				return
			}
			c.SetReadDeadline(time.Time{})
			serveAnswer(br, c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(again), again))
		})
		tr, _ := newTestH1(t)
		if r := diffCall(tr, s.URL(), diffReq{method: "GET"}); r.sum == "hang" {
			t.Fatalf("first GET hung: %v", r.err)
		}
		r := diffCall(tr, s.URL(), diffReq{method: "GET"})
		switch r.sum {
		case "error", `200 "` + again + `"`, `200 "` + fresh + `"`:
		default:
			t.Fatalf("second GET got %v, want its own answer or an error", r)
		}
	})
}

// TestH1ReusesConnectionPastItsLastDeadline: a call's deadline stays set
// on its connection in the pool. Once it has passed, the check before
// reuse must still find the connection usable, or every connection idle
// longer than what remained of its last call's timeout is redialed.
func TestH1ReusesConnectionPastItsLastDeadline(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTestH1(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(res.Body); err != nil || string(b) != "ok" {
		t.Fatalf("read %q, %v", b, err)
	}
	res.Body.Close()
	time.Sleep(150 * time.Millisecond)
	if _, body := do(t, tr, "GET", s.URL, ""); body != "ok" {
		t.Fatalf("body %q", body)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("accepted %d connections, want 1: the idle connection was dropped", n)
	}
}

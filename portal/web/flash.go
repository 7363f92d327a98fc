package web

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/layout"
)

const flashCookie = "portico_flash"

// setFlash carries a one-time message over the next redirect.
func setFlash(c *gin.Context, kind, text string) {
	var fs []layout.Flash
	if v, ok := c.Get(flashCookie); ok {
		fs = v.([]layout.Flash)
	}
	fs = append(fs, layout.Flash{Kind: kind, Text: text})
	c.Set(flashCookie, fs)
	b, _ := json.Marshal(fs)
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// takeFlashes reads and clears the pending messages.
func takeFlashes(c *gin.Context) []layout.Flash {
	ck, err := c.Request.Cookie(flashCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 3000 {
		return nil
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	var fs []layout.Flash
	if json.Unmarshal(b, &fs) != nil {
		return nil
	}
	for i := range fs {
		if fs[i].Kind != "success" && fs[i].Kind != "error" && fs[i].Kind != "info" {
			fs[i].Kind = "info"
		}
	}
	return fs
}

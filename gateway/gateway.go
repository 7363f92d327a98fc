package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// RequestIDHeader is echoed on every gateway response.
const RequestIDHeader = "X-Portico-Request-Id"

// Handler is the gateway's HTTP entry point.
type Handler struct{}

// NewHandler returns the gateway handler.
func NewHandler() *Handler { return &Handler{} }

type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	w.Header().Set(RequestIDHeader, id)
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	writeProblem(w, problem{
		Type: "https://portico.dev/problems/no-route", Title: "Not Found", Status: http.StatusNotFound,
		Detail: "No API is published at " + r.URL.Path + ".", RequestID: id,
	})
}

func writeProblem(w http.ResponseWriter, p problem) {
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

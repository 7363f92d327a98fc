package gateway

import (
	"io"
	"log/slog"
	"time"
)

func benchOptions(now time.Time) Options {
	return Options{Region: "local", Now: func() time.Time { return now }, Protection: &Protection{}, AllowPrivateUpstreams: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

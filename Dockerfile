# syntax=docker/dockerfile:1
# Portico: one static binary (pure-Go SQLite, no cgo) on a minimal base,
# running as a non-root user with its data in a volume.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/portico ./cmd/portico \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portico /usr/local/bin/portico
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORTICO_DATA_DIR=/data \
    PORTICO_PORTAL_ADDR=0.0.0.0:8080 \
    PORTICO_GATEWAY_ADDR=0.0.0.0:8000
VOLUME ["/data"]
EXPOSE 8080 8000
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/portico"]
CMD ["serve"]

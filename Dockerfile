# syntax=docker/dockerfile:1
# Build a static binary, then run it on Debian with ffmpeg as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/vod .

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/vod --create-home vod
COPY --from=build /out/vod /usr/local/bin/vod
COPY config.yaml /etc/vod/config.yaml
USER vod
WORKDIR /var/lib/vod
ENV VOD_CONFIG=/etc/vod/config.yaml \
    VOD_DATA_DIR=/var/lib/vod/data \
    VOD_HTTP_ADDR=:8080 \
    VOD_LOG_FORMAT=json
VOLUME /var/lib/vod/data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/vod"]
CMD ["serve"]

# vod: the two commands are `make run` and `make test`.
GO      ?= go
BIN     ?= bin/vod
IMAGE   ?= vod:latest
LDFLAGS := -s -w

.PHONY: run build test lint bench docker clean player

## run: start the server on the embedded default (SQLite + ./data/media + Bleve); installs ffmpeg if missing
run:
	@scripts/deps.sh run
	$(GO) run . serve

## build: a static binary in bin/vod
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

## test: vet, then the whole suite on SQLite + local storage and on PostgreSQL + MinIO (started on loopback)
test:
	@scripts/test.sh

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

## bench: the benchmarks behind docs/BENCHMARKS.md (the load test on PostgreSQL + MinIO)
bench:
	@scripts/bench.sh

## docker: build the container image (needs a Docker engine)
docker:
	docker build -t $(IMAGE) .

clean:
	rm -rf bin data

## player: refresh the committed front-end assets from the pinned npm packages
player:
	cd web/player && npm ci --no-audit --no-fund
	cp web/player/node_modules/dashjs/dist/dash.all.min.js web/player/static/vendor/
	cp web/player/node_modules/tus-js-client/dist/tus.min.js web/player/static/vendor/
	cp web/player/node_modules/swagger-ui-dist/swagger-ui-bundle.js web/player/node_modules/swagger-ui-dist/swagger-ui.css web/player/static/vendor/swagger/

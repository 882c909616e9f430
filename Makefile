# The two commands a newcomer needs:
#   make serve   run the whole chat on this machine (same as: go run ./cmd/chatapp serve)
#   make test    run every test
GO ?= go

.PHONY: serve test vet build clean

serve:
	$(GO) run ./cmd/chatapp serve

# -race needs cgo; the machine's gcc provides it.
test: vet
	$(GO) test -race -count=1 ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o bin/chatapp ./cmd/chatapp

clean:
	rm -rf bin chatapp-data

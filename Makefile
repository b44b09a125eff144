# The two commands the README promises:
#   make example   build argodeploy and generate the pipeline of an example
#   make test      run every test (what CI runs through .ci/run)
GO ?= go
BIN := bin/argodeploy
EXAMPLE ?= examples/single-service.yaml

.PHONY: all build example test vet fmt-check golden fuzz clean schemas

all: build

build:
	$(GO) build -o $(BIN) ./cmd/argodeploy

example: build
	$(BIN) generate -f $(EXAMPLE)

test: fmt-check vet
	$(GO) test ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd pkg templates schemas); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# golden rewrites every golden file from the current code; review the diff.
golden:
	$(GO) test ./cmd/... ./pkg/mapping/ ./pkg/output/ -update

# fuzz runs each fuzz target for FUZZTIME (CI uses a short one); a crasher
# lands in the package's testdata/fuzz and so becomes a regular test.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./pkg/mapping/
	$(GO) test -run='^$$' -fuzz=FuzzGenerate -fuzztime=$(FUZZTIME) ./pkg/render/

clean:
	rm -rf bin

# schemas regenerates schemas/kinds from the upstream schemas of the module
# versions in go.mod; see schemas/README.md.
schemas:
	$(GO) run ./schemas/gen

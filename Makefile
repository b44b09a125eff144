# The commands the README promises:
#   make example   build argodeploy and generate the pipeline of an example
#   make test      run the default tests (a few minutes)
#   make ci        everything CI runs through .ci/run: test, a short run of
#                  every fuzz target, and the end-to-end test on real
#                  components (cold: about 25 minutes of builds, cached)
GO ?= go
BIN := bin/argodeploy
EXAMPLE ?= examples/single-service.yaml

.PHONY: all build install example test race mutation ci lint vet fmt-check golden docs fuzz clean e2e e2e-faults e2e-node schemas bench bench-e2e release release-check

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/argodeploy

# example prints only the manifests on stdout (the build, if any, goes to
# stderr), so that make example | kubectl apply -f - works.
example:
	@$(GO) build -buildvcs=auto -o $(BIN) ./cmd/argodeploy >&2
	@$(BIN) generate -f $(EXAMPLE)

test: fmt-check vet
	$(GO) test ./...

ci: test race mutation
	$(MAKE) fuzz FUZZTIME=3000x
	$(MAKE) release-check PLATFORMS=linux/amd64
	$(MAKE) e2e
	$(MAKE) e2e-node E2E_NODE_PUSHES=5
	$(MAKE) e2e-faults

# mutation scores validate on every mutation site of the examples' output
# (make test scores a fixed sample of one in 16): several minutes.
mutation:
	ARGODEPLOY_MUTATION_ALL=1 $(GO) test -count=1 -timeout 30m -run TestMutationScore -v ./cmd/argodeploy/

# race runs the tests of the packages that work on several goroutines
# (parallel rendering, decoding, replay, cache warming), and validate's
# tests (each document checked and decoded as it is read, on every CPU),
# under the race detector: about five minutes.
RACE_PKGS := ./pkg/rollout/ ./pkg/manifest/ ./pkg/kinds/ ./pkg/simulate/ ./pkg/output/ ./pkg/render/ ./pkg/check/ ./pkg/schema/ ./pkg/mapping/
race:
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -race -count=1 -run Validate ./cmd/argodeploy/

# lint is what make test checks first: gofmt and go vet.
lint: fmt-check vet

install:
	$(GO) install ./cmd/argodeploy

# docs rewrites docs/cli (the command reference) and docs/mapping.md (the
# mapping file's reference) from the code; make test checks they are in sync.
docs:
	$(GO) test ./cmd/argodeploy/ -run TestDocsInSync -update

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd pkg templates schemas); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# golden rewrites every golden file from the current code; review the diff.
golden:
	$(GO) test ./cmd/... ./pkg/mapping/ ./pkg/output/ -update

# fuzz runs each fuzz target for FUZZTIME (CI uses a short one); a crasher
# lands in the package's testdata/fuzz and so becomes a regular test.
# FUZZTIME counts executions ("3000x"), not seconds: Go 1.26's fuzzer can
# end a run by time with a spurious "context deadline exceeded"
# (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 50000x
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./pkg/mapping/
	$(GO) test -run='^$$' -fuzz=FuzzGenerate -fuzztime=$(FUZZTIME) ./pkg/render/
	$(GO) test -run='^$$' -fuzz=FuzzScreens -fuzztime=$(FUZZTIME) ./pkg/simulate/
	$(GO) test -run='^$$' -fuzz=FuzzParametersMatchArgoEvents -fuzztime=$(FUZZTIME) ./pkg/simulate/

clean:
	rm -rf bin dist

# release writes dist/: an archive per platform (linux, darwin x amd64,
# arm64) stamped with VERSION (default: git describe), the image tarball
# per linux platform and checksums.txt; see .ci/release. release-check also
# tests them: checksums, both binaries print the version and commit, the
# image holds the binary alone as user 65534, and the CI recipes run with
# the released binary.
# PLATFORMS (default: all four) narrows the build, as CI does: each
# platform is a cold compile of every package.
release:
	PLATFORMS="$(PLATFORMS)" .ci/release

release-check: release
	PLATFORMS="$(PLATFORMS)" $(GO) test -tags release -count=1 -run TestReleaseArtifacts ./cmd/argodeploy/
	ARGODEPLOY_BIN=$$(mktemp -d)/argodeploy; \
	tar -xzf dist/argodeploy_*_linux_amd64.tar.gz -C $$(dirname $$ARGODEPLOY_BIN) argodeploy && \
	ARGODEPLOY_BIN=$$ARGODEPLOY_BIN $(GO) test -count=1 -run 'TestCIExamples' ./cmd/argodeploy/

# e2e builds (once, cached) and starts the real components on loopback and
# runs the end-to-end tests; see pkg/testenv/README.md. The measurement at
# scale (TestLatencyAtScale) is make bench-e2e's.
e2e:
	.ci/e2e-install && $(GO) test -tags e2e -count=1 -timeout 30m -skip '$(E2E_FAULTS)|$(E2E_NODE)|TestLatencyAtScale' ./pkg/testenv/

# e2e-node runs the tests on the real node: TestNodeRunsPods (pods of the
# pipeline's kinds, the steps run as pods) and TestWorkflowsOnNode (the
# whole chain: the Argo Events controller's JetStream, EventSource and
# Sensor pods, the Argo Workflows controller's step pods; a release, an
# undo, then E2E_NODE_PUSHES pushes timed from their publish), and writes
# the BenchmarkE2ENode lines into bin/e2e-node.txt, which the next make
# bench reports.
E2E_NODE := TestNodeRunsPods|TestWorkflowsOnNode
E2E_NODE_PUSHES := 20
e2e-node:
	mkdir -p bin
	.ci/e2e-install
	ARGODEPLOY_E2E_NODE_PUSHES=$(E2E_NODE_PUSHES) $(GO) test -tags e2e -count=1 -timeout 60m -run '$(E2E_NODE)' -v ./pkg/testenv/ > bin/e2e-node.log 2>&1 || { tail -n 100 bin/e2e-node.log; exit 1; }
	grep '^BenchmarkE2ENode' bin/e2e-node.log > bin/e2e-node.txt

# e2e-faults injects the outages the pipeline must lose nothing to (the
# kube-apiserver down, a push lost and recovered by a reconcile pass, the
# sensor, eventsource and JetStream server killed, the bus restarted
# empty); about 7 minutes warm.
E2E_FAULTS := TestAPIServerOutage|TestLostPushRecovered|TestBusRestart
e2e-faults:
	.ci/e2e-install && $(GO) test -tags e2e -count=1 -timeout 30m -run '$(E2E_FAULTS)' -v ./pkg/testenv/

# schemas regenerates schemas/kinds from the upstream schemas of the module
# versions in go.mod; see schemas/README.md.
schemas:
	$(GO) run ./schemas/gen

# bench runs the package benchmarks and times argodeploy beside kubeconform
# v0.7.0 on the same generated manifests and schemas (time and peak
# memory), and beside a cobra program linking only the upstream API types
# (process start, binary size); it writes BENCHMARKS.md.
KUBECONFORM_VERSION := v0.7.0
bench: build
	GOBIN=$(CURDIR)/bin $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./pkg/... ./cmd/... > bin/gobench.txt
	$(GO) build -o bin/plaincobra ./testdata/bench/plaincobra
	$(GO) test -tags bench -run TestBenchmarks -count=1 -timeout 60m ./cmd/argodeploy/ -args \
		-argodeploy $(CURDIR)/$(BIN) -kubeconform $(CURDIR)/bin/kubeconform \
		-gobench $(CURDIR)/bin/gobench.txt -plain $(CURDIR)/bin/plaincobra -e2e $(CURDIR)/bin/e2e-latency.txt -e2e-node $(CURDIR)/bin/e2e-node.txt -out $(CURDIR)/BENCHMARKS.md

# bench-e2e measures publish -> Workflow on the real chain at 10 and 1,000
# services (TestLatencyAtScale, about 4 minutes warm), and the recovery
# from a kube-apiserver outage (TestAPIServerOutage: the Sensor's retries;
# TestLostPushRecovered: a reconcile pass) and from a JetStream restart
# (TestBusRestart: on its store, and empty with a reconcile pass's repair)
# into bin/e2e-latency.txt, which the next make bench reports.
bench-e2e:
	mkdir -p bin
	.ci/e2e-install
	$(GO) test -tags e2e -count=1 -timeout 30m -run 'TestLatencyAtScale|TestAPIServerOutage|TestLostPushRecovered|TestBusRestart' -v ./pkg/testenv/ > bin/e2e-latency.log 2>&1 || { tail -n 60 bin/e2e-latency.log; exit 1; }
	grep '^BenchmarkE2E' bin/e2e-latency.log > bin/e2e-latency.txt

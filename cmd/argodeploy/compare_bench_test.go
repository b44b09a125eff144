//go:build bench

package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// The side-by-side benchmarks behind `make bench`: the built binaries,
// timed as a user runs them, and kubeconform on the same files with the
// same schemas. They write BENCHMARKS.md.
var (
	argodeployBin  = flag.String("argodeploy", "", "the argodeploy binary")
	kubeconformBin = flag.String("kubeconform", "", "the kubeconform v0.7.0 binary")
	goBench        = flag.String("gobench", "", "output of the package benchmarks (go test -bench), included as is")
	plainBin       = flag.String("plain", "", "the plaincobra binary (testdata/bench/plaincobra): the process-start and binary-size peer")
	reportFile     = flag.String("out", "", "where to write BENCHMARKS.md")
	e2eBench       = flag.String("e2e", "", "output of make bench-e2e (TestLatencyAtScale on the real chain), when it ran")
	e2eNodeBench   = flag.String("e2e-node", "", "output of make e2e-node (TestWorkflowsOnNode: the real controller and node), when it ran")
	runs           = flag.Int("runs", 5, "runs of each command; the median counts")
)

// measurement is one command's median and fastest wall time over its
// runs. The median decides a target; the fastest run shows what the
// machine gives when nothing else runs on it.
type measurement struct {
	median, fastest time.Duration
	runs            int
	rss             int64 // median peak resident memory, bytes
}

// mb is bytes in megabytes.
func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

// String is the median, with the fastest run in brackets.
func (m measurement) String() string {
	return fmt.Sprintf("%s (%s)", ms(m.median), ms(m.fastest))
}

// timeCommand runs argv n times (after one unmeasured warm-up that fills
// the page cache) and returns the median wall time; every run must exit 0.
func timeCommand(t *testing.T, n int, argv ...string) measurement {
	t.Helper()
	return timeCommands(t, n, argv)[0]
}

// timeCommands times several commands as timeCommand does, taking turns
// run by run, so that a machine that slows down for a while slows all of
// them alike and their ratio holds.
func timeCommands(t *testing.T, n int, argvs ...[]string) []measurement {
	t.Helper()
	// GNU time reports the peak memory: it forks the command, where Go's
	// os/exec shares its own memory with the child until exec, so the
	// child's maxrss would count this test's. Its start, a few
	// milliseconds, is timed alike for every command compared.
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Fatalf("make bench measures peak memory with GNU time (apt-get install time): %v", err)
	}
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	run := func(argv []string) (time.Duration, int64) {
		cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile, "--"}, argv...)...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = nil, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
		}
		took := time.Since(start)
		data, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatal(err)
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			t.Fatalf("GNU time's %%M: %q: %v", data, err)
		}
		return took, kib * 1024
	}
	times := make([][]time.Duration, len(argvs))
	rss := make([][]int64, len(argvs))
	for _, argv := range argvs {
		run(argv)
	}
	for range n {
		for i, argv := range argvs {
			took, peak := run(argv)
			times[i], rss[i] = append(times[i], took), append(rss[i], peak)
		}
	}
	out := make([]measurement, len(argvs))
	for i := range times {
		slices.Sort(times[i])
		slices.Sort(rss[i])
		out[i] = measurement{times[i][n/2], times[i][0], n, rss[i][n/2]}
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// secs is d in seconds to a tenth, or in ms under a second.
func secs(d time.Duration) string {
	if d < time.Second {
		return ms(d)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// plainCopy copies the binary at path into dir in 64 KiB writes, as a
// download or an image layer is written, and returns the copy's path. The
// page cache keeps a file in folios as large as the writes that made it,
// and a process faults in whole folios of its binary: argodeploy starts at
// 52 MB resident from such a copy or from disk, 56 MB as the Go linker
// writes it, and 75 MB after one 99 MB write (docs/performance.md). That is
// how the file was written, not what the program does, so every compared
// binary runs from such a copy.
func plainCopy(t *testing.T, dir, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(path))
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(data, 64<<10) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBenchmarks(t *testing.T) {
	if *argodeployBin == "" || *kubeconformBin == "" || *plainBin == "" || *reportFile == "" {
		t.Fatal("run through `make bench`: -argodeploy, -kubeconform, -plain and -out are required")
	}
	dir := t.TempDir()
	root := repoPath(".")
	for _, bin := range []*string{argodeployBin, kubeconformBin, plainBin} {
		*bin = plainCopy(t, filepath.Join(dir, "bin"), *bin)
	}
	schemaLocation := filepath.Join(root, "schemas/kinds") + "/{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json"
	var rows, commands []string
	row := func(format string, args ...any) { rows = append(rows, fmt.Sprintf(format, args...)) }
	command := func(argv ...string) []string {
		commands = append(commands, "    "+strings.Join(argv, " "))
		return argv
	}

	// generate, at every size.
	mappings := map[int]string{}
	for _, n := range synthetic.Sizes {
		mappings[n] = filepath.Join(dir, fmt.Sprintf("mapping-%d.yaml", n))
		if err := os.WriteFile(mappings[n], synthetic.YAML(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	generate := map[int]measurement{}
	for _, n := range synthetic.Sizes {
		generate[n] = timeCommand(t, *runs, command(*argodeployBin, "generate", "-f", mappings[n])...)
	}
	for _, n := range synthetic.Sizes {
		status := ""
		if n == 1000 {
			status = "target: well under a second: " + against(float64(generate[n].median), float64(time.Second), false)
		}
		row("| generate, %d services | %s, %s | | | %s |", n, generate[n], mb(generate[n].rss), status)
	}
	perService := float64(generate[10000].median-generate[1000].median) / 9000
	row("| generate, cost per added service (1,000 → 10,000) | %.1f µs | | | linear if close to (10,000-service time)/10,000 = %.1f µs |",
		perService/1000, float64(generate[10000].median)/10000/1000)

	// What one push costs the event bus, counted from the generated
	// Sensors.
	cost := map[int][2]int{}
	for _, n := range []int{10, 100, 1000} {
		consumers, filters := busCost(t, n)
		cost[n] = [2]int{consumers, filters}
	}
	for _, n := range []int{10, 100, 1000} {
		status := "target: does not grow with services: "
		if cost[n] == cost[10] {
			status += "met"
		} else {
			status += fmt.Sprintf("not met (%.0f× the 10-service cost)", float64(cost[n][0])/float64(cost[10][0]))
		}
		row("| event bus per push, %d services: JetStream durable consumers it is delivered to / data filters they evaluate (counted from the generated Sensors: one consumer per trigger and dependency) | %d / %d | | | %s |", n, cost[n][0], cost[n][1], status)
	}

	// The same on the real chain, when make bench-e2e has run, and how
	// long the pipeline takes to catch up after an outage.
	const notMeasured = "not measured in this run: `make bench-e2e` (needs `.ci/e2e-install`, root) writes bin/e2e-latency.txt"
	recovery := []struct{ name, what string }{
		{"BenchmarkE2EOutageRecovery/apiserver-down-20s", "end of a kube-apiserver outage of about 20 s → Workflow of the last push published during it created (the Sensor's trigger retries; TestAPIServerOutage)"},
		{"BenchmarkE2ELostPushRecovered/reconcile-pass", "reconcile pass that releases a push lost in an outage, process included, until the Deployment runs it (the pass, its release Workflow's route and rollout steps; TestLostPushRecovered)"},
		{"BenchmarkE2EBusRecovery/sensor-killed", "sensor killed mid-burst, restarted 5 s later → the Sensor's Workflow of every push of the burst (TestBusRestart)"},
		{"BenchmarkE2EBusRecovery/eventsource-killed", "eventsource killed mid-burst, restarted → every push's Workflow from the Sensor, capped at 120 s (older pushes Pub/Sub still holds for the killed client's lease then are superseded; the newest is released; TestBusRestart)"},
		{"BenchmarkE2EBusRecovery/store-kept", "NATS JetStream killed mid-burst, restarted on its store → every push's Workflow from the Sensor, no repair, capped at 120 s (Pub/Sub holds what the eventsource took while its bus was down as it pleases; TestBusRestart)"},
		{"BenchmarkE2EBusRecovery/store-wiped-reconcile-pass", "NATS JetStream restarted empty (the Sensor stuck): start of the reconcile pass that repairs the bus → Workflows of the pushes Pub/Sub held, created by the Sensor (TestBusRestart)"},
	}
	if data, err := os.ReadFile(*e2eBench); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			var n, pushes, consumers int
			var median, p90 int64
			if _, err := fmt.Sscanf(line, "BenchmarkE2EPublishToWorkflow/services=%d\t%d\t%d ns/op\t%d p90-ns\t%d consumers", &n, &pushes, &median, &p90, &consumers); err == nil {
				row("| publish → Workflow on the real chain (Pub/Sub emulator, argo-events eventsource and sensors, NATS JetStream, kube-apiserver), %d services, %d consumers, %d pushes 250 ms apart (`make bench-e2e`) | median %s, p90 %s | | | |",
					n, consumers, pushes, ms(time.Duration(median)), ms(time.Duration(p90)))
			}
		}
		for _, r := range recovery {
			if ns, ok := benchMetric(string(data), r.name, "ns/op"); ok {
				row("| %s (`make bench-e2e`, one run) | %.1f s | | | |", r.what, time.Duration(ns).Seconds())
			} else {
				row("| %s | %s | | | |", r.what, notMeasured)
			}
		}
	} else {
		row("| publish → Workflow on the real chain | %s | | | |", notMeasured)
		for _, r := range recovery {
			row("| %s | %s | | | |", r.what, notMeasured)
		}
	}

	// A release on the real node, from the publish: the Argo Events
	// controller's EventSource, JetStream and Sensor pods create the
	// Workflow, the Argo Workflows controller runs its step pods through
	// its executor, the kubelet runs them and the target's new pods, when
	// make e2e-node has run.
	node := []struct{ name, what string }{
		{"BenchmarkE2ENode/publish-to-workflow-created", "publish → Workflow created"},
		{"BenchmarkE2ENode/publish-to-route-pod-running", "publish → route step pod Running"},
		{"BenchmarkE2ENode/publish-to-rollout-pod-running", "publish → rollout step pod Running"},
		{"BenchmarkE2ENode/publish-to-deployment-rolled", "publish → target Deployment rolled (its new pod Ready, the old one gone)"},
	}
	nodeData, _ := os.ReadFile(*e2eNodeBench)
	for _, r := range node {
		var pushes int
		var median, p90 int64
		found := false
		for _, line := range strings.Split(string(nodeData), "\n") {
			if _, err := fmt.Sscanf(line, r.name+"\t%d\t%d ns/op\t%d p90-ns", &pushes, &median, &p90); err == nil {
				found = true
			}
		}
		if found {
			row("| %s on the real node (Pub/Sub emulator; Argo Events controller, its EventSource, JetStream and Sensor pods; Argo Workflows controller and executor; kubelet, containerd; TestWorkflowsOnNode), %d pushes one after another (`make e2e-node`) | median %s, p90 %s | | | |",
				r.what, pushes, secs(time.Duration(median)), secs(time.Duration(p90)))
		} else {
			row("| %s on the real node (TestWorkflowsOnNode) | not measured in this run: `make e2e-node` (root) writes bin/e2e-node.txt | | | |", r.what)
		}
	}

	// validate vs kubeconform on the same inputs and schemas: one
	// example, one stream (one file, as generate | validate - gives it)
	// and a directory of 1,000 and 10,000 services; time and peak memory.
	kubeconform := func(path string) []string {
		return command(*kubeconformBin, "-strict", "-summary", "-ignore-missing-schemas", "-schema-location", schemaLocation, path)
	}
	// Each pair runs in turn with both programs' start alone (argodeploy
	// version, kubeconform -v), so that the row can say how much of the
	// time is the start, which links the upstream validators.
	oursStart, peerStart := command(*argodeployBin, "version"), command(*kubeconformBin, "-v")
	timeValidate := func(n int, ours, peer []string) []measurement {
		return timeCommands(t, n, ours, peer, oursStart, peerStart)
	}
	validateRow := func(what string, m []measurement) {
		ours, peer := m[0], m[1]
		tr, mr := float64(ours.median)/float64(peer.median), float64(ours.rss)/float64(peer.rss)
		started := float64(ours.median-m[2].median) / float64(peer.median-m[3].median)
		row("| validate, %s, %d runs | %s, %s | %s, %s | %.2f× time (%.2f× after the start; the starts alone: %s and %s), %.2f× memory | no slower than kubeconform: %s; memory at most 3× its: %s |",
			what, ours.runs, ours, mb(ours.rss), peer, mb(peer.rss), tr, started, ms(m[2].median), ms(m[3].median), mr, against(tr, 1, false), against(mr, 3, false))
	}
	example := filepath.Join(root, "testdata/examples/single-service.yaml")
	validateRow("one example (14 objects), process start included", timeValidate(3**runs,
		command(*argodeployBin, "validate", example), kubeconform(example)))
	dirs, streams := map[int]string{}, map[int]string{}
	for _, n := range []int{1000, 10000} {
		dirs[n], streams[n] = filepath.Join(dir, fmt.Sprintf("pipeline-%d", n)), filepath.Join(dir, fmt.Sprintf("stream-%d.yaml", n))
		if err := exec.Command(*argodeployBin, "generate", "-f", mappings[n], "--output-dir", dirs[n]).Run(); err != nil {
			t.Fatal(err)
		}
		stream, err := exec.Command(*argodeployBin, "generate", "-f", mappings[n]).Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(streams[n], stream, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drift, validated := map[int]measurement{}, map[int]measurement{}
	for _, n := range []int{1000, 10000} {
		count := *runs
		if n == 10000 {
			count = 3
		}
		validateRow(fmt.Sprintf("%d services as one stream (one file)", n), timeValidate(count,
			command(*argodeployBin, "validate", "--allow-external", streams[n]), kubeconform(streams[n])))
		inDir := timeValidate(count, command(*argodeployBin, "validate", "--allow-external", dirs[n]), kubeconform(dirs[n]))
		validateRow(fmt.Sprintf("%d services, a directory (%s files)", n, fileCount(t, dirs[n])), inDir)
		validated[n] = inDir[0]
		drift[n] = timeCommands(t, count, command(*argodeployBin, "validate", "--allow-external", "--mapping", mappings[n], dirs[n]))[0]
	}
	growth := drift[10000].rss - drift[1000].rss
	for _, n := range []int{1000, 10000} {
		status := ""
		if n == 10000 {
			// Bounded: the input's size (10x) changes the peak by no more
			// than a fifth.
			verdict := "met"
			if float64(drift[10000].rss) > 1.2*float64(drift[1000].rss) {
				verdict = "**not met**"
			}
			status = fmt.Sprintf("target: bounded memory (the peak grows by at most a fifth for 10× the input): %s: %s more than at 1,000 services (%.1f KB per added service). ", verdict, mb(growth), float64(growth)/9000/1e3)
		}
		status += fmt.Sprintf("Alone, at this size: generate %s, validate %s", mb(generate[n].rss), mb(validated[n].rss))
		row("| validate --mapping (drift: generate and compare too), %d services, a directory, %d runs | %s, %s | | | %s |", n, drift[n].runs, drift[n], mb(drift[n].rss), status)
	}

	// Process start and binary size beside a cobra program that links only
	// the upstream API types (testdata/bench/plaincobra).
	pair := timeCommands(t, 3**runs, command(*argodeployBin, "version"), command(*plainBin, "version"))
	ours, peer := pair[0], pair[1]
	row("| process start (`version`), %d runs; peer: a cobra program linking only the upstream API types (`testdata/bench/plaincobra`) | %s | %s | %.2f× | what the rest of the links costs at every start |",
		ours.runs, ours, peer, float64(ours.median)/float64(peer.median))
	size := func(bin string) int64 {
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	oursSize, peerSize, oursInits, peerInits := size(*argodeployBin), size(*plainBin), inits(t, *argodeployBin), inits(t, *plainBin)
	row("| binary size; package initialisers run before main (`GODEBUG=inittrace=1 ... version`) | %s; %d | %s; %d | %.2f×; %.2f× | |",
		mb(oursSize), oursInits, mb(peerSize), peerInits, float64(oursSize)/float64(peerSize), float64(oursInits)/float64(peerInits))

	// simulate: 10,000 registry messages through a pipeline, no step; by
	// default and with --exact (Argo Events' own code deciding each).
	const messages = 10000
	for _, n := range []int{100, 1000, 10000} {
		msgs := filepath.Join(dir, fmt.Sprintf("messages-%d.jsonl", n))
		var b strings.Builder
		for i := range messages {
			if i%2 == 0 {
				b.WriteString(synthetic.ReleaseMessage(i, n) + "\n")
			} else {
				b.WriteString(synthetic.UnmappedMessage(i, n) + "\n")
			}
		}
		if err := os.WriteFile(msgs, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		simulate := func(args ...string) []string {
			return command(append([]string{*argodeployBin, "simulate", "-f", mappings[n], "--no-step", "-o", "json"}, args...)...)
		}
		times := timeCommands(t, 3, simulate(msgs), simulate("--exact", msgs))
		all, exact := times[0], times[1]
		status := ""
		if n == 1000 {
			status = "target: under 10 s, process included: " + against(float64(all.median), float64(10*time.Second), false)
		}
		row("| simulate, %d messages (half releases, half of an image no service maps) through %d services, process included, %d runs; `--exact` (Argo Events' own code decides) in the second column | %s, %s | `--exact` %s, %s | %.2f× | %s |",
			messages, n, all.runs, all, mb(all.rss), exact, mb(exact.rss), float64(all.median)/float64(exact.median), status)
	}

	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmarks\n\nWritten by `make bench` (%s); numbers are medians of %d runs (after one warm-up run) unless a row says otherwise, with the fastest run in brackets, wall time and peak resident memory (the kernel's maxrss) of the whole process as a user runs it; each binary runs from a copy written in 64 KiB writes, as a download is (a binary written in larger writes, the linker's included, faults in more of its own file: docs/performance.md). kubeconform v0.7.0 validates the same inputs with the same per-kind schemas (`schemas/kinds`, argodeploy's `make schemas` output) with `-strict -ignore-missing-schemas` (the kustomization.yaml has no schema; argodeploy counts it as skipped); argodeploy runs all its layers (schema, decode, upstream validators, local, cross-resource, access). simulate's peer is `simulate --exact`, where Argo Events' own Filter and ApplyResourceParameters decide every trigger that fires, compiling each expression and template per event as a running Sensor does. The compared commands take turns run by run, so a machine that slows down for a while (the machines here do, by up to ±20 %%) slows both alike: the targets are ratios to the peer in one run (issue 23), except simulate's and generate's, which are wall times of the whole process. validate's turns also run each program's start alone (`argodeploy version`, `kubeconform -v`): \"after the start\" is the ratio of the two medians less their start's, and the row gives the two starts (argodeploy's, then kubeconform's).\n\n", time.Now().UTC().Format("2006-01-02"), *runs)
	fmt.Fprintf(&md, "## Machine\n\n%s\n\nWhat profiles showed and what changed, before and after: [docs/performance.md](docs/performance.md).\n\n", machine())
	md.WriteString("## Side by side\n\n| what | argodeploy | peer: kubeconform; for simulate, `--exact` | ratio | target and status |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		md.WriteString(r + "\n")
	}
	md.WriteString("\n## Commands\n\n`make bench` builds both binaries, writes synthetic mappings (`pkg/testcorpus/synthetic`: N services over ten namespaces, every tenth in another cluster) into a temporary directory, and times:\n\n")
	for _, c := range slices.Compact(commands) {
		md.WriteString(strings.ReplaceAll(c, dir, "$TMP") + "\n")
	}
	if *goBench != "" {
		data, err := os.ReadFile(*goBench)
		if err != nil {
			t.Fatal(err)
		}
		md.WriteString(reconcileRequests(t, string(data)))
		fmt.Fprintf(&md, "\n## Package benchmarks\n\n`go test -run '^$' -bench . -benchmem -benchtime 3x ./pkg/... ./cmd/...`:\n\n```\n%s```\n", data)
	}
	if err := os.WriteFile(*reportFile, []byte(md.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// benchMetric is the median of the value the named benchmark's lines in
// go test -bench output give unit ("ns/op", or a custom metric such as
// "requests/op"), and whether any line gives it. name matches with or
// without the -GOMAXPROCS suffix, and not a longer name.
func benchMetric(output, name, unit string) (float64, bool) {
	var values []float64
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], name+"-") && fields[0] != name {
			continue
		}
		for i := 3; i < len(fields); i += 2 {
			var v float64
			if fields[i] == unit {
				if _, err := fmt.Sscan(fields[i-1], &v); err == nil {
					values = append(values, v)
				}
				break
			}
		}
	}
	if len(values) == 0 {
		return 0, false
	}
	slices.Sort(values)
	return values[len(values)/2], true
}

// reconcileRequests is the section on the registry requests of a
// reconcile pass (BenchmarkReconcileRequests in gobench, the go test
// -bench output): one pass over services that are all up to date, the
// cost paid every reconcile interval.
func reconcileRequests(t *testing.T, gobench string) string {
	var b strings.Builder
	b.WriteString("\n## Reconcile pass: registry requests\n\nHTTP requests one pass of `argodeploy reconcile` sends to the registry when every target already has its image's newest push, the cost paid each reconcile interval (`BenchmarkReconcileRequests`: `reconcile.Run` with `Registry.List`, a fake Kubernetes API, one image with one tagged push and one target per service, no registry credentials). Artifact Registry lists every manifest with its upload time in `tags/list`; a plain v2 registry (go-containerregistry's) lists tag names, so each tag a target takes costs its manifest and image config as well.\n\n| registry | services | requests per pass | requests per service |\n|---|---|---|---|\n")
	for _, registry := range []struct{ name, label string }{{"artifact-registry", "Artifact Registry (`tags/list` with manifests)"}, {"plain", "plain v2, one tag per image"}} {
		for _, n := range []int{10, 100, 1000} {
			name := fmt.Sprintf("BenchmarkReconcileRequests/registry=%s/services=%d", registry.name, n)
			perPass, ok := benchMetric(gobench, name, "requests/op")
			perService, ok2 := benchMetric(gobench, name, "requests/service")
			if !ok || !ok2 {
				t.Fatalf("gobench: no requests/op and requests/service of %s", name)
			}
			fmt.Fprintf(&b, "| %s | %d | %.0f | %.1f |\n", registry.label, n, perPass, perService)
		}
	}
	return b.String()
}

// against says whether measured meets target, and the ratio of the two:
// a time must be at most its target, a rate (higherIsBetter) at least.
func against(measured, target float64, higherIsBetter bool) string {
	ratio := measured / target
	met := ratio <= 1
	if higherIsBetter {
		met = ratio >= 1
	}
	verdict := "**not met**"
	if met {
		verdict = "met"
	}
	return fmt.Sprintf("%s (%.2f× the target)", verdict, ratio)
}

func fileCount(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(len(entries))
}

// machine describes where the numbers come from.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		// The first processor's fields: the model name alone does not tell
		// one generation from another ("AMD EPYC"), and the targets are
		// wall times.
		cpu := map[string]string{}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" {
				break
			}
			if key, value, ok := strings.Cut(line, ":"); ok {
				cpu[strings.TrimSpace(key)] = strings.TrimSpace(value)
			}
		}
		if name := cpu["model name"]; name != "" {
			model = fmt.Sprintf("%s (family %s, model %s, stepping %s; %s MHz)",
				name, cpu["cpu family"], cpu["model"], cpu["stepping"], cpu["cpu MHz"])
		}
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %s %s/%s; load average at the end: %s",
		model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

// busCost counts, in the Sensors generated for n synthetic services, the
// JetStream durable consumers every push is delivered to (Argo Events
// v1.9 gives each trigger one per dependency its conditions name, all of
// the Sensor's when it has none: pkg/eventbus/jetstream/sensor/
// trigger_conn.go) and the data filters those consumers evaluate.
func busCost(t *testing.T, n int) (consumers, filters int) {
	t.Helper()
	m, err := mapping.Parse("synthetic", synthetic.YAML(n))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ident := regexp.MustCompile(`[A-Za-z0-9_-]+`)
	for _, o := range objs {
		s, ok := o.(*eventsv1.Sensor)
		if !ok {
			continue
		}
		deps := map[string]int{}
		for _, d := range s.Spec.Dependencies {
			if d.Filters != nil {
				deps[d.Name] = len(d.Filters.Data)
			} else {
				deps[d.Name] = 0
			}
		}
		for _, tr := range s.Spec.Triggers {
			named := ident.FindAllString(tr.Template.Conditions, -1)
			if len(named) == 0 {
				for name := range deps {
					named = append(named, name)
				}
			}
			for _, name := range named {
				if f, ok := deps[name]; ok {
					consumers++
					filters += f
				}
			}
		}
	}
	return consumers, filters
}

// inits counts the package initialisers bin runs before main
// (GODEBUG=inittrace=1), starting `bin version`.
func inits(t *testing.T, bin string) int {
	t.Helper()
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	n := 0
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "init ") {
			n++
		}
	}
	return n
}

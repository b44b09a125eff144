// Package preload reads and parses the input files named on the command
// line while Go is still initialising the upstream modules, on the CPU
// that initialisation leaves idle: the service mapping of generate and
// simulate (-f), and the manifest files validate is given one by one (the
// files a pre-commit hook passes).
//
// It only ever does what the command itself would do first, with the same
// functions (os.ReadFile, then mapping.Parse as mapping.Load does, or
// manifest.Parse as validate does), so what the command gets from
// Mapping and Manifests is what it would have read and parsed itself,
// errors included. The command asks for a file by the name it was given;
// a file that changed since it was read here (another inode, size or
// modification time), a name this package guessed wrongly from the
// arguments, or a file it could not read is simply not here, and the
// command reads it as it always does. Only regular files are read: never
// stdin, a pipe or a device, whose bytes the command must read itself.
package preload

import (
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// parsed is one file read and parsed ahead of the command.
type parsed[T any] struct {
	info     os.FileInfo
	done     chan struct{}
	unusable bool // the file could not be read
	value    T
	err      error
	taken    atomic.Bool
}

// start reads the regular file path and parses it with parse on a new
// goroutine, or returns nil.
func start[T any](path string, parse func(file string, data []byte) (T, error)) *parsed[T] {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return nil
	}
	p := &parsed[T]{info: info, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		data, err := os.ReadFile(path)
		if err != nil {
			p.unusable = true
			return
		}
		p.value, p.err = parse(path, data)
	}()
	return p
}

// take returns what was parsed and its error, once, if the file is still
// the one read.
func (p *parsed[T]) take(path string) (T, error, bool) {
	var zero T
	if p == nil || p.taken.Swap(true) {
		return zero, nil, false
	}
	<-p.done
	if p.unusable {
		return zero, nil, false
	}
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(now, p.info) || now.Size() != p.info.Size() || !now.ModTime().Equal(p.info.ModTime()) {
		return zero, nil, false
	}
	return p.value, p.err, true
}

// The files being read; each map is written only in init.
var (
	mappings  = map[string]*parsed[*mapping.ServiceMapping]{}
	manifests = map[string]*parsed[[]manifest.Doc]{}
)

// Mapping loads the mapping at path: what mapping.Load returns, taken
// from what was loaded ahead of the command when it can be.
func Mapping(path string) (*mapping.ServiceMapping, error) {
	if m, err, ok := mappings[path].take(path); ok {
		return m, err
	}
	return mapping.Load(path)
}

// Manifests gives manifest.ReadParsed the files parsed ahead of the
// command.
func Manifests(path string) (manifest.Parsed, bool) {
	docs, err, ok := manifests[path].take(path)
	return manifest.Parsed{Docs: docs, Err: err}, ok
}

// Plan is what the command line args (os.Args without the program) read
// first: the mapping files and the manifest files.
type Plan struct {
	Mappings, Manifests []string
}

// valueFlags are validate's flags that take a value; what follows one is
// not a manifest. TestPreloadPlansAsCobraParses (in cmd/argodeploy) holds
// the list to validate's flags.
var valueFlags = map[string]bool{"-o": true, "--output": true, "--mapping": true, "--max-object-bytes": true, "--diff": true}

// Command returns the command that args (os.Args without the program)
// name, as cobra finds it: the first argument that is not a flag; and the
// arguments after it.
func Command(args []string) (name string, rest []string) {
	for i, arg := range args {
		if !strings.HasPrefix(arg, "-") {
			return arg, args[i+1:]
		}
	}
	return "", nil
}

// PlanFor reads args (os.Args without the program) as cobra will. generate and
// simulate read the mapping the last -f/--filename names first; validate
// reads its arguments, and those that are files it parses one by one.
func PlanFor(args []string) Plan {
	command, rest := Command(args)
	var plan Plan
	switch command {
	case "generate", "simulate":
		file := ""
	scan:
		for i, arg := range rest {
			switch {
			case arg == "--":
				break scan
			case (arg == "-f" || arg == "--filename") && i+1 < len(rest):
				file = rest[i+1]
			case strings.HasPrefix(arg, "--filename="):
				file = strings.TrimPrefix(arg, "--filename=")
			case strings.HasPrefix(arg, "-f") && !strings.HasPrefix(arg, "--") && len(arg) > 2:
				file = strings.TrimPrefix(arg[2:], "=")
			}
		}
		if file != "" {
			plan.Mappings = []string{file}
		}
	case "validate":
		for i := 0; i < len(rest); i++ {
			switch arg := rest[i]; {
			case arg == "--":
				plan.Manifests = append(plan.Manifests, rest[i+1:]...)
				return plan
			case valueFlags[arg]:
				i++
			case !strings.HasPrefix(arg, "-"):
				plan.Manifests = append(plan.Manifests, arg)
			}
		}
	}
	return plan
}

func init() {
	if runtime.GOMAXPROCS(0) < 2 || len(os.Args) < 2 {
		return
	}
	plan := PlanFor(os.Args[1:])
	for _, path := range plan.Mappings {
		if p := start(path, mapping.Parse); p != nil {
			mappings[path] = p
		}
	}
	for _, path := range plan.Manifests {
		if p := start(path, manifest.Parse); p != nil {
			manifests[path] = p
		}
	}
}

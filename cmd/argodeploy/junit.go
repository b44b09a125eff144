package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnit XML, as CI systems (GitLab, Jenkins, GitHub test reporters) read it:
// one test case per resource, one per drifting file.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes rep as a JUnit report: a test case per resource (class
// name its file, name Kind/namespace/name) failing with its problems, and
// one per drifting file.
func writeJUnit(w io.Writer, rep report) error {
	suite := junitSuite{Name: "argodeploy validate"}
	byResource := map[string][]problem{}
	for _, p := range rep.Problems {
		k := p.File + "\x00" + p.Kind + "/" + p.Namespace + "/" + p.Name
		byResource[k] = append(byResource[k], p)
	}
	for _, r := range rep.resources {
		c := junitCase{Classname: r.file, Name: r.kind + "/" + r.namespace + "/" + r.name}
		var errs, notes []string
		for _, p := range byResource[r.file+"\x00"+c.Name] {
			if p.Severity == severityNote {
				notes = append(notes, p.String())
			} else {
				errs = append(errs, p.String())
			}
		}
		switch {
		case len(errs) > 0:
			c.Failure = &junitFailure{Message: fmt.Sprintf("%d problems", len(errs)), Text: strings.Join(errs, "\n")}
			suite.Failures++
		case !knownKinds[r.kind]:
			c.Skipped = &struct{}{}
			suite.Skipped++
		}
		c.SystemOut = strings.Join(notes, "\n")
		suite.Cases = append(suite.Cases, c)
	}
	for _, d := range rep.Drift {
		suite.Cases = append(suite.Cases, junitCase{Classname: "drift", Name: d.File,
			Failure: &junitFailure{Message: "differs from what the mapping generates", Text: d.Diff}})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

package main

import (
	"errors"
	"io"
	"strings"
)

// parseStep parses a command line a workflow step runs argodeploy with
// (the words after argodeploy) as this binary does: the command exists,
// its flags parse and it takes the arguments given. It runs nothing.
func parseStep(args []string) error {
	root := newRootCommand(streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		if len(args) == 0 {
			return errors.New("no command")
		}
		return root.Args(root, args[:1])
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}

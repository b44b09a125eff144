package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupMounts lists the mount points of the cgroup hierarchies (v1 and a
// hybrid host's cgroup2).
func cgroupMounts() []string {
	var dirs []string
	for _, m := range mountInfo() {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			dirs = append(dirs, m.point)
		}
	}
	return dirs
}

// makeCgroup creates the cgroup root in every hierarchy, as the kubelet
// wants it to exist. A new cpuset cgroup starts with no CPUs and memory
// nodes: it gets its parent's.
func makeCgroup(root string) error {
	for _, mnt := range cgroupMounts() {
		dir := filepath.Join(mnt, root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			parent, err := os.ReadFile(filepath.Join(mnt, f))
			if err != nil {
				continue // not the cpuset hierarchy
			}
			if err := os.WriteFile(filepath.Join(dir, f), parent, 0o644); err != nil {
				return fmt.Errorf("cgroup %s: %w", filepath.Join(dir, f), err)
			}
		}
	}
	return nil
}

// teardown ends a node whose processes (containerd, kubelet, kube-proxy)
// are gone: it kills every process in its cgroups (the containers and
// their pause processes) and the runc shims of its containerd, unmounts
// what is mounted under its directory (root filesystems, volumes, the pods'
// network namespaces), removes its cgroups and deletes its network
// namespace, with the bridge, the veth pair and the iptables rules in it.
func (n nodeEntry) teardown() {
	var cgroups []string
	for _, mnt := range cgroupMounts() {
		root := filepath.Join(mnt, n.CgroupRoot)
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				cgroups = append(cgroups, path)
			}
			return nil
		})
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		left := 0
		for _, cg := range cgroups {
			data, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					left++
				}
			}
		}
		if left == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range shimsOf(n.Socket) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	unmountUnder(n.Dir)
	// Deepest first: a cgroup goes only once its children have.
	slices.SortFunc(cgroups, func(a, b string) int { return len(b) - len(a) })
	for _, cg := range cgroups {
		for i := 0; i < 50; i++ {
			if err := os.Remove(cg); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	_ = exec.Command("ip", "netns", "delete", n.Netns).Run()
}

// shimsOf finds the containerd-shim-runc-v2 processes started by the
// containerd listening on socket: their command line names it.
func shimsOf(socket string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	want := []byte("\x00-address\x00" + socket + "\x00")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, want) && bytes.Contains(cmdline, []byte("containerd-shim")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder detaches every mount at or below dir, the last mounted
// first, until none is left.
func unmountUnder(dir string) {
	for range 10 {
		var points []string
		for _, m := range mountInfo() {
			if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
				points = append(points, m.point)
			}
		}
		if len(points) == 0 {
			return
		}
		for i := len(points) - 1; i >= 0; i-- {
			_ = unix.Unmount(points[i], unix.MNT_DETACH)
		}
	}
}

type mount struct{ point, fstype string }

// mountInfo reads this process's mount table, in mount order.
func mountInfo() []mount {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mounts []mount
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 1 {
			continue
		}
		mounts = append(mounts, mount{point: unescapeMount(fields[4]), fstype: tail[0]})
	}
	return mounts
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

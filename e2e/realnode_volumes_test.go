//go:build e2e && realnode

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// harnessVolumes is where the harness's provisioner (a kwok stage) puts
// each PersistentVolume: a hostPath directory named after the PV. The
// stage deletes the PV with its claim but never the directory, so every
// builder cache and Redis volume a test made would stay on the machine's
// disk until the kubelet evicts the next test's pods for DiskPressure.
const harnessVolumes = "/tmp/kwok-local-path-provisioner"

// reclaimHarnessVolumes does the provisioner's part at the end of t: it
// removes the volume directories made during t once their PV is gone. A
// PV still there (a teardown that failed) keeps its directory.
func reclaimHarnessVolumes(t testing.TB) {
	t.Helper()
	before := volumeDirs(t)
	t.Cleanup(func() {
		for dir := range volumeDirs(t) {
			if before[dir] {
				continue
			}
			pv := "pv/" + filepath.Base(dir)
			out, err := exec.Command("kubectl", "wait", "--for=delete", pv, "--timeout=60s").CombinedOutput()
			if err != nil {
				t.Logf("keeping %s: %s is not gone: %v: %s", dir, pv, err, out)
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("removing the harness volume %s: %v", dir, err)
			}
		}
	})
}

// volumeDirs are the harness's volume directories now.
func volumeDirs(t testing.TB) map[string]bool {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(harnessVolumes, "pvc-*"))
	if err != nil {
		t.Fatalf("listing %s: %v", harnessVolumes, err)
	}
	set := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		set[d] = true
	}
	return set
}

package install_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
)

// Install a binary, upgrade it, and see that only the newest receipt
// removes it.
func Example() {
	tmp, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	_ = os.Mkdir(bin, 0o755)
	policy := install.Policy{Dirs: []string{bin}}

	src := filepath.Join(tmp, "rbee-hive")
	_ = os.WriteFile(src, []byte("version 1\n"), 0o755)
	v1, err := install.Install(context.Background(), policy, daemoncontract.InstallConfig{BinaryName: "rbee-hive", BinaryPath: &src})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("installed", filepath.Base(v1.BinaryPath), *v1.SHA256)

	_ = os.WriteFile(src, []byte("version 2\n"), 0o755)
	v2, _ := install.Install(context.Background(), policy, daemoncontract.InstallConfig{BinaryName: "rbee-hive", BinaryPath: &src})
	fmt.Println("upgraded ", filepath.Base(v2.BinaryPath), *v2.SHA256)

	remove := daemoncontract.UninstallConfig{DaemonName: "rbee-hive", InstallPath: v1.BinaryPath}
	err = install.Uninstall(context.Background(), policy, remove, v1)
	fmt.Println("the old receipt:", errors.Is(err, install.ErrNotOurs))
	err = install.Uninstall(context.Background(), policy, remove, v2)
	fmt.Println("the new receipt:", err)
	// Output:
	// installed rbee-hive 3a79bf37b571938d1f2907afb6a643f48088b83769dde8bc58f5ee866a5c3636
	// upgraded  rbee-hive b03d44cd60d71de68a4aca7808c6f768802f6d6c414430ff8ccea10c1aa57b4c
	// the old receipt: true
	// the new receipt: <nil>
}

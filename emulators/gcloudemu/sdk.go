package gcloudemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// debianSDKRoot is where the Debian google-cloud-cli packages install the SDK.
const debianSDKRoot = "/usr/lib/google-cloud-sdk"

// prerequisites finds java and the Cloud SDK root, or says how to install what is missing.
func prerequisites() (java, sdkRoot string, err error) {
	java, err = findJava()
	if err != nil {
		return "", "", err
	}
	return java, findSDKRoot(), nil
}

func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(java); err == nil { //nolint:gosec // JAVA_HOME is the developer's own setting
			return java, nil
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java not found, the emulators need it (install it with `apt-get install openjdk-17-jre-headless`): %w", err)
	}
	return java, nil
}

// findSDKRoot returns CLOUDSDK_ROOT_DIR if set, else the SDK that the gcloud on PATH belongs
// to (gcloud lives in <root>/bin, often behind a symlink), else the Debian location.
func findSDKRoot() string {
	if root := os.Getenv("CLOUDSDK_ROOT_DIR"); root != "" {
		return root
	}
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		if resolved, err := filepath.EvalSymlinks(gcloud); err == nil {
			root := filepath.Dir(filepath.Dir(resolved))
			if _, err := os.Stat(filepath.Join(root, "platform")); err == nil {
				return root
			}
		}
	}
	return debianSDKRoot
}

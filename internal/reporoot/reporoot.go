// Package reporoot finds the repository's folder from a test, for the test
// components kept under its .cache/ (DynamoDB Local, the CloudFormation
// specification).
package reporoot

import (
	"errors"
	"os"
	"path/filepath"
)

// Find walks up from the working directory (a package's folder under go
// test) to the folder holding go.mod.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Package apispec holds the tests to the API documents, docs/openapi.yaml
// and docs/asyncapi.yaml: a RoundTripper that validates the REST traffic of
// the end-to-end tests against the OpenAPI document (openapi.go,
// transport.go), and the AsyncAPI check of WebSocket frames, which runs the
// AsyncAPI parser under node (asyncapi.go). Tests only.
package apispec

import (
	"path/filepath"

	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// docPath is the path of a document of docs/, by its file name.
func docPath(name string) (string, error) {
	root, err := reporoot.Find()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "docs", name), nil
}

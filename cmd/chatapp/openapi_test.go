package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/apispec"
)

// TestOpenAPIRoutes: docs/openapi.yaml documents every route the server
// answers (the gateway's table, gateway.Routes, and the operator's
// /healthz and /metrics), and nothing it does not answer.
func TestOpenAPIRoutes(t *testing.T) {
	spec, err := apispec.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, ServeConfig{Metrics: true, Stage: "dev"})
	const sampleID = "Zq3VYb1kPl0sW9e="
	served := map[string]bool{}
	for _, route := range append(s.gateway.Routes(), "GET "+healthPath, "GET "+metricsPath) {
		route = strings.ReplaceAll(route, "{id}", url.PathEscape(sampleID))
		served[route] = true
		method, path, _ := strings.Cut(route, " ")
		if !spec.Documents(method, path) {
			t.Errorf("the server answers %s, which %s does not document", route, apispec.OpenAPIFile)
		}
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range spec.Operations() {
		concrete := param.ReplaceAllStringFunc(op, func(p string) string {
			if p == "{stage}" {
				return "dev"
			}
			return url.PathEscape(sampleID)
		})
		if !served[concrete] {
			t.Errorf("%s documents %s, which the server does not answer (as %s)", apispec.OpenAPIFile, op, concrete)
		}
	}
	if !served["PUT /chat"] || !served["GET "+healthPath] {
		t.Errorf("the server's routes lack PUT /chat or /healthz: %v", served)
	}
}

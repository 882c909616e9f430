package apispec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// OpenAPIFile is the OpenAPI document's name under docs/.
const OpenAPIFile = "openapi.yaml"

// Spec is the OpenAPI document, parsed, with its validator.
type Spec struct {
	Model     *v3.Document
	validator validator.Validator
	// outside are the paths the document leaves out on purpose (its
	// x-outside-the-api): one ending in "/" is a prefix.
	outside []string
}

// The document is parsed once per test binary: it takes a few hundred
// milliseconds, a request's validation far less.
var openAPI struct {
	once sync.Once
	spec *Spec
	err  error
}

// OpenAPI returns docs/openapi.yaml, parsed once and checked against the
// OpenAPI 3.1 schema.
func OpenAPI() (*Spec, error) {
	openAPI.once.Do(func() { openAPI.spec, openAPI.err = loadOpenAPI() })
	return openAPI.spec, openAPI.err
}

func loadOpenAPI() (*Spec, error) {
	path, err := docPath(OpenAPIFile)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	model, errs := doc.BuildV3Model()
	if errs != nil {
		return nil, fmt.Errorf("%s: %w", path, errs)
	}
	v, verrs := validator.NewValidator(doc)
	if verrs != nil {
		return nil, fmt.Errorf("%s: %v", path, verrs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %s", path, describe(errs))
	}
	spec := &Spec{Model: &model.Model, validator: v}
	if ext := model.Model.Extensions.GetOrZero("x-outside-the-api"); ext != nil {
		if err := ext.Decode(&spec.outside); err != nil {
			return nil, fmt.Errorf("%s: x-outside-the-api: %w", path, err)
		}
	}
	return spec, nil
}

// isOutside reports whether the document leaves path out on purpose.
func (s *Spec) isOutside(path string) bool {
	for _, p := range s.outside {
		if path == p || strings.HasSuffix(p, "/") && p != "/" && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Check judges one exchange: req with its body, and resp with its body.
//
//   - The answer must be one the document gives for the operation (its
//     status, its headers, its body's schema), whatever the request.
//   - A request the document has no operation for must be refused (4xx): a
//     route that answers it otherwise is missing from the document.
//   - A request the document calls invalid (a parameter, a header or the
//     body) must be refused with a 4xx: the deliberately bad requests of the
//     tests go this way, and a document stricter than the server fails.
func (s *Spec) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	if s.isOutside(req.URL.Path) {
		return nil
	}
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	if len(reqBody) > 0 && vreq.Header.Get("Content-Type") == "" {
		// The functions read any body as JSON, whatever it is labelled.
		vreq.Header.Set("Content-Type", "application/json")
	}
	_, reqErrs := s.validator.ValidateHttpRequestSync(vreq)
	refused := resp.StatusCode >= 400 && resp.StatusCode < 500
	if undocumented(reqErrs) {
		if path.Clean(req.URL.Path) != req.URL.Path && isRedirect(resp.StatusCode) {
			return nil // Go's HTTP server sends a path with .. or // to its clean form
		}
		if !refused {
			return fmt.Errorf("%s %s is not in %s, but was answered %d: document it", req.Method, req.URL.Path, OpenAPIFile, resp.StatusCode)
		}
		return nil
	}
	var problems []string
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := s.validator.ValidateHttpResponse(vreq, &vresp); !ok {
		problems = append(problems, fmt.Sprintf("the %d answer does not match %s: %s", resp.StatusCode, OpenAPIFile, describe(errs)))
	}
	if len(reqErrs) > 0 && !refused {
		problems = append(problems, fmt.Sprintf("the request does not match %s (%s), yet was answered %d", OpenAPIFile, describe(reqErrs), resp.StatusCode))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s: %s; answer %q", req.Method, req.URL.RequestURI(), strings.Join(problems, "; "), truncate(respBody))
	}
	return nil
}

func isRedirect(status int) bool {
	return status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// undocumented reports whether errs say that the document has no such path
// or no such method on it. A path whose parameter does not match (an empty
// connection id) is no such path either: the server's router does not
// match it.
func undocumented(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationSubType == helpers.ValidationMissingOperation ||
			e.ValidationType == helpers.PathValidation && e.ValidationSubType == helpers.ValidationMissing ||
			e.ValidationType == helpers.ParameterValidation && e.ValidationSubType == helpers.ParameterValidationPath {
			return true
		}
	}
	return false
}

// describe renders validation errors on one line each, with the schema
// failures that explain them.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// Documents reports whether the document has an operation for method on
// path (a concrete path, as a client sends it).
func (s *Spec) Documents(method, path string) bool {
	req, err := http.NewRequest(method, "http://127.0.0.1"+path, nil)
	if err != nil {
		return false
	}
	_, errs := s.validator.ValidateHttpRequestSync(req)
	return !undocumented(errs)
}

// Operations lists the document's operations as "METHOD /path template".
func (s *Spec) Operations() []string {
	var out []string
	for p := s.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		for op := p.Value().GetOperations().First(); op != nil; op = op.Next() {
			out = append(out, strings.ToUpper(op.Key())+" "+p.Key())
		}
	}
	return out
}

// Package cfnspec checks a CloudFormation template with the SAM transform
// (template.yaml) against AWS's own specifications, for tests: what
// CloudFormation and SAM would refuse at deploy time is found by go test.
//
// Two specifications:
//
//   - db.json.gz, fetched by scripts/cfn-spec.sh into .cache/cfn-spec/ from
//     the npm package @aws-cdk/aws-service-spec (pinned there): every
//     CloudFormation resource type with its properties (their types, which
//     are required, allowed values) and its attributes, built by AWS from
//     the CloudFormation registry schemas.
//   - sam.schema.json.gz, in this package: SAM's JSON schema of its
//     AWS::Serverless::* types, written by aws-sam-translator 1.110.0 (the
//     transform's own code) from its models; `scripts/cfn-spec.sh --sam`
//     writes it anew from the installed translator. It is kept in git
//     because neither npm nor the Go module proxy carries a current one.
//     Where SAM passes a property through to the resource it generates (a
//     function's LoggingConfig or MemorySize to AWS::Lambda::Function), the
//     value is checked against that CloudFormation type.
//
// Check reports every finding; see check.go for what is checked.
package cfnspec

import (
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed sam.schema.json.gz
var samSchemaGz []byte

// Spec is the loaded specifications. It is read-only once loaded.
type Spec struct {
	resources map[string]*resourceType // by CloudFormation type
	typeDefs  map[string]*typeDef      // by the database's $id
	uses      map[string][]string      // resource $id → its property types' $id
	sam       *samSchema
}

type resourceType struct {
	ID         string              `json:"$id"`
	Type       string              `json:"cloudFormationType"`
	Properties map[string]property `json:"properties"`
	Attributes map[string]struct {
		Type valueType `json:"type"`
	} `json:"attributes"`
}

// typeDef is a property type (a structure) of a resource type.
type typeDef struct {
	ID         string              `json:"$id"`
	Name       string              `json:"name"`
	Properties map[string]property `json:"properties"`
}

type property struct {
	Type     valueType `json:"type"`
	Required bool      `json:"required"`
}

// valueType is the database's type of a value: string, number, integer,
// boolean, date-time, json (any JSON), tag ({Key, Value}), array or map (of
// Element), ref (a typeDef) or union (any of Types).
type valueType struct {
	Kind      string     `json:"type"`
	Element   *valueType `json:"element"`
	Reference *struct {
		ID string `json:"$ref"`
	} `json:"reference"`
	Types         []valueType `json:"types"`
	AllowedValues []any       `json:"allowedValues"`

	// props is a structure's properties, for Kind "props": a resource's,
	// or a property type's once its reference is followed.
	props map[string]property
}

// Missing is the error of a machine where scripts/cfn-spec.sh has not put
// the specifications: tests skip, except in CI.
type Missing string

func (m Missing) Error() string { return string(m) }

// Load reads the specifications from dir (.cache/cfn-spec).
func Load(dir string) (*Spec, error) {
	db := filepath.Join(dir, "db.json.gz")
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return nil, Missing("no " + db)
	}
	s := &Spec{resources: map[string]*resourceType{}, typeDefs: map[string]*typeDef{}, uses: map[string][]string{}}
	if err := s.loadDB(db); err != nil {
		return nil, fmt.Errorf("%s: %w", db, err)
	}
	var err error
	if s.sam, err = loadSAM(samSchemaGz); err != nil {
		return nil, fmt.Errorf("sam.schema.json.gz: %w", err)
	}
	return s, nil
}

func (s *Spec) loadDB(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	var db struct {
		Schema struct {
			Resource struct {
				Entities []*resourceType `json:"entities"`
			} `json:"resource"`
			TypeDefinition struct {
				Entities []*typeDef `json:"entities"`
			} `json:"typeDefinition"`
			// usesType links a resource ($id) to its property types.
			UsesType struct {
				Forward map[string][]struct {
					ID string `json:"$id"`
				} `json:"forward"`
			} `json:"usesType"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(z).Decode(&db); err != nil {
		return err
	}
	for _, r := range db.Schema.Resource.Entities {
		s.resources[r.Type] = r
	}
	for _, t := range db.Schema.TypeDefinition.Entities {
		s.typeDefs[t.ID] = t
	}
	for r, types := range db.Schema.UsesType.Forward {
		for _, t := range types {
			s.uses[r] = append(s.uses[r], t.ID)
		}
	}
	if len(s.resources) < 1000 || len(s.typeDefs) < 1000 {
		return fmt.Errorf("%d resource types and %d property types: not the database this was written for", len(s.resources), len(s.typeDefs))
	}
	return nil
}

// cfnDefinition returns the database type that a CloudFormation schema
// path names, as SAM's pass-through properties do: ["definitions",
// "AWS::Lambda::Function", "properties", "Properties", "properties",
// "LoggingConfig"] is that resource's property, ["definitions",
// "AWS::Lambda::Function.Code", "properties", "SourceKMSKeyArn"] a property
// of one of its property types.
func (s *Spec) cfnDefinition(path []string) (valueType, bool) {
	if len(path) < 4 || path[0] != "definitions" {
		return valueType{}, false
	}
	name, prop := path[1], path[len(path)-1]
	resName, typeName, isType := strings.Cut(name, ".")
	r := s.resources[resName]
	if r == nil {
		return valueType{}, false
	}
	props := r.Properties
	if isType {
		props = nil
		for _, id := range s.uses[r.ID] {
			if t := s.typeDefs[id]; t != nil && t.Name == typeName {
				props = t.Properties
			}
		}
	}
	p, ok := props[prop]
	return p.Type, ok
}

package dynamodb

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientConfig says where DynamoDB is. The zero value is AWS, configured by
// the usual environment (AWS_REGION, credentials, profiles, roles).
type ClientConfig struct {
	// Endpoint is a DynamoDB-compatible endpoint such as DynamoDB Local's
	// http://127.0.0.1:8000; empty means AWS.
	Endpoint string
	// Region overrides the environment's region.
	Region string
}

// LocalCredentials are the dummy key of DynamoDB Local, which accepts any
// key but keeps one set of tables per key and region: a fixed one lets every
// local process share them.
var LocalCredentials = credentials.NewStaticCredentialsProvider("local", "local", "")

// Client returns a DynamoDB client on cfg, at endpoint when it is set.
func Client(cfg aws.Config, endpoint string) *ddb.Client {
	return ddb.NewFromConfig(cfg, func(o *ddb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// Emulators do not always send the CRC32 DynamoDB checks.
			o.DisableValidateResponseChecksum = true
		}
	})
}

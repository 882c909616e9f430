package dynamodb

import (
	"cmp"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
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

// Retryer is the SDK's standard retryer as every client of chatapp uses
// it: throttled and failed requests (DynamoDB throttling, the Management
// API's LimitExceededException) are retried up to 8 attempts with backoff
// capped at 2 s, which a Lambda's short deadline can afford.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 8
		o.MaxBackoff = 2 * time.Second
	})
}

// EnvConfig is the AWS configuration of a Lambda function: the region and
// the credentials Lambda puts in the environment, and Retryer. It does not
// use the SDK's default loader (profiles, SSO, IMDS, web identity), which a
// function never needs and which costs the bootstrap 1.8 MB and about 5 ms
// of cold start; chatapp serve uses that loader (internal/awsconfig). With
// an endpoint (DynamoDB Local under the runtime emulator) and no
// credentials in the environment it uses the fixed local ones.
func EnvConfig(cc ClientConfig) aws.Config {
	cfg := aws.Config{
		Region:  cmp.Or(cc.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		Retryer: Retryer,
	}
	if key := os.Getenv("AWS_ACCESS_KEY_ID"); key != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			key, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")))
	} else if cc.Endpoint != "" {
		cfg.Credentials = LocalCredentials
	}
	if cc.Endpoint != "" && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg
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

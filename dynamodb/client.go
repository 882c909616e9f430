package dynamodb

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
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

// LoadConfig loads the AWS configuration from the usual environment, with
// the SDK's standard retryer configured for every client made from it:
// throttled and failed requests (DynamoDB throttling, the Management API's
// LimitExceededException) are retried up to 8 attempts with backoff capped
// at 2 s, which a Lambda's short deadline can afford.
func LoadConfig(ctx context.Context, cc ClientConfig) (aws.Config, error) {
	local := cc.Endpoint != ""
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 8
				o.MaxBackoff = 2 * time.Second
			})
		}),
	}
	if cc.Region != "" {
		opts = append(opts, config.WithRegion(cc.Region))
	}
	if local && !credentialsInEnv() {
		// DynamoDB Local accepts any key but keeps one set of tables per key
		// and region: a fixed dummy key lets every local process share them.
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if local && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// NewClient returns a DynamoDB client configured by LoadConfig.
func NewClient(ctx context.Context, cc ClientConfig) (*ddb.Client, error) {
	cfg, err := LoadConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	return Client(cfg, cc.Endpoint), nil
}

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

// credentialsInEnv tells whether the environment names credentials, which
// then win over the dummy ones, even locally.
func credentialsInEnv() bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

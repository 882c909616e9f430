package dynamolocal_test

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Main(m)) }

func TestStartSharesOneProcess(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	if again := dynamolocal.Start(t); again != endpoint {
		t.Fatalf("second Start = %s, want the first's %s", again, endpoint)
	}
	client := ddb.New(ddb.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if _, err := client.ListTables(t.Context(), &ddb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on %s: %v", endpoint, err)
	}
}

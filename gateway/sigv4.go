package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The Management API's Signature Version 4 parameters, as on AWS.
const (
	managementService = "execute-api"
	sigV4Algorithm    = "AWS4-HMAC-SHA256"
	amzDateFormat     = "20060102T150405Z"
	scopeDateFormat   = "20060102"
	// maxClockSkew is how far X-Amz-Date may be from now: AWS's 5 minutes.
	maxClockSkew = 5 * time.Minute
)

// NewManagementCredentials returns random credentials for the Management
// API over HTTP. The gateway hands them to the functions it runs and
// accepts only requests signed with them.
func NewManagementCredentials() aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     "AKIA" + rand.Text()[:16],
		SecretAccessKey: rand.Text() + rand.Text(), // 260 random bits
		Source:          "chatapp gateway",
	}
}

// refusal is a request the Management API turns away, in AWS's words:
// the X-Amzn-ErrorType and the message of a 403.
type refusal struct {
	errType string
	message string
}

func forbidden(message string) *refusal {
	return &refusal{errType: "ForbiddenException", message: message}
}

func invalidSignature(format string, args ...any) *refusal {
	return &refusal{errType: "InvalidSignatureException", message: fmt.Sprintf(format, args...)}
}

// sigV4Header is a parsed Authorization header:
// AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX.
type sigV4Header struct {
	accessKeyID, date, region, service string
	signedHeaders                      string
	signature                          string
}

func parseSigV4Header(h string) (sigV4Header, error) {
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return sigV4Header{}, fmt.Errorf("Authorization header must use %s", sigV4Algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	var out sigV4Header
	out.signedHeaders, out.signature = fields["SignedHeaders"], fields["Signature"]
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || out.signedHeaders == "" || out.signature == "" {
		return sigV4Header{}, fmt.Errorf("Authorization header requires 'Credential' (AKID/date/region/service/aws4_request), 'SignedHeaders' and 'Signature'")
	}
	out.accessKeyID, out.date, out.region, out.service = scope[0], scope[1], scope[2], scope[3]
	return out, nil
}

// verifySignature checks a /@connections request's Signature Version 4
// against creds, as API Gateway does: the access key, X-Amz-Date within
// 5 minutes of now, and the signature, which the SDK's own signer
// recomputes over a copy of the request carrying only the headers the
// client signed and the SHA-256 of body. It returns nil for a good one.
func verifySignature(r *http.Request, body []byte, creds aws.Credentials, now time.Time) *refusal {
	header := r.Header.Get("Authorization")
	if header == "" {
		return forbidden("Missing Authentication Token")
	}
	got, err := parseSigV4Header(header)
	if err != nil {
		return invalidSignature("%v", err)
	}
	if !hmac.Equal([]byte(got.accessKeyID), []byte(creds.AccessKeyID)) {
		return forbidden("The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return invalidSignature("X-Amz-Date must be a time in the format %s", amzDateFormat)
	}
	if skew := now.Sub(signedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return invalidSignature("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.UTC().Add(-maxClockSkew).Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}
	if got.date != signedAt.Format(scopeDateFormat) || got.service != managementService {
		return invalidSignature("Credential should be scoped to a valid date and the service '%s'", managementService)
	}
	signed := strings.Split(got.signedHeaders, ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return invalidSignature("SignedHeaders must include host and x-amz-date")
	}

	payloadHash := sha256.Sum256(body)
	c := signableCopy(r, signed)
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, c, hex.EncodeToString(payloadHash[:]), managementService, got.region, signedAt); err != nil {
		return invalidSignature("cannot compute the signature: %v", err)
	}
	want, err := parseSigV4Header(c.Header.Get("Authorization"))
	if err != nil || want.signedHeaders != got.signedHeaders || !hmac.Equal([]byte(want.signature), []byte(got.signature)) {
		return invalidSignature("The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// signableCopy returns a request like r with only the headers named in
// signed, for the signer to sign again. Its URL keeps the path exactly as
// it came on the wire (RawPath): the client signed "/@connections/ID%3D",
// and a path escaped anew from the decoded one might differ.
func signableCopy(r *http.Request, signed []string) *http.Request {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	c := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, name := range signed {
		switch name {
		case "host": // the signer takes it from c.Host
		case "content-length":
			// The signer signs it from ContentLength, never from the
			// header map.
			c.ContentLength = r.ContentLength
		default:
			if values := r.Header.Values(name); len(values) > 0 {
				c.Header[http.CanonicalHeaderKey(name)] = values
			}
		}
	}
	return c
}

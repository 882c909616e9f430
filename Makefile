# The two commands a newcomer needs:
#   make serve   run the whole chat on this machine (same as: go run ./cmd/chatapp serve)
#   make test    run every test
GO ?= go

.PHONY: serve cluster test gotest vet fuzz race build clean deps

serve:
	$(GO) run ./cmd/chatapp serve

# A local cluster (docs/cluster.md): 3 nodes on 127.0.0.1:8081-8083 sharing
# a throwaway PostgreSQL and a NATS server, until Ctrl-C.
cluster:
	scripts/cluster.sh

# -race needs cgo and a C compiler (gcc or clang). Without one the tests
# run without the race detector, after a warning; in CI that is a failure.
# vet and test share the flag, so that the packages go vet compiles are the
# ones go test (and the binaries tests build, internal/gobuild) reuse.
RACE := $(shell [ "$$($(GO) env CGO_ENABLED 2>/dev/null)" = 1 ] && command -v "$$($(GO) env CC 2>/dev/null | cut -d' ' -f1)" >/dev/null && echo -race)

# Two things at a time: deps (downloads, mostly waiting on the network)
# beside vet (compiling); then the tests (mostly waiting on timers and
# sockets once compiled) beside the fuzzers. Where make can (GNU make 4),
# each one's output is printed whole when it ends. -parallel 4: the tests
# marked parallel (browsers, Unity harnesses, each with its own server)
# mostly wait, so four overlap on two cores. -timeout 30m: go test's 10
# minutes per package bound a hang, and cmd/chatapp's tests take most of that
# on a busy 2-core machine.
SYNC := $(if $(filter output-sync,$(.FEATURES)),-Otarget)

test:
	@$(MAKE) --no-print-directory -j2 $(SYNC) deps vet
	@$(MAKE) --no-print-directory -j2 $(SYNC) gotest fuzz

gotest:
	$(GO) test $(RACE) -count=1 -parallel 4 -timeout 30m ./...

race:
ifeq ($(RACE),)
	@if [ "$$CI" = true ]; then echo "make test: -race needs cgo and a C compiler ($$($(GO) env CC))" >&2; exit 1; fi
	@echo "make test: no C compiler ($$($(GO) env CC)) for -race: the tests run without the race detector; install gcc or clang" >&2
endif

# Every fuzz target of every package, FUZZTIME each (`make fuzz FUZZTIME=1m`
# to dig deeper): scripts/fuzz.sh.
FUZZTIME ?= 3s

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

vet: race
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(RACE) ./...

# What the tests need beyond Go (DynamoDB Local), cached in .cache/.
deps:
	scripts/deps.sh

build:
	$(GO) build -o bin/chatapp ./cmd/chatapp

# The Unity client's console harness, by hand (unity/README.md): builds it
# with Mono into bin/unity-harness, runs it against a `chatapp serve` it
# starts on a free loopback port and stops, and fails unless every check
# passes. The Go tests build and run it with the same script.
.PHONY: unity-harness
unity-harness:
	scripts/unity-harness.sh

clean:
	rm -rf bin chatapp-data

# ---- AWS: deploy the chat with SAM (docs/deploy.md) ------------------------
# Needs the AWS SAM CLI and AWS credentials (and the AWS CLI for outputs and
# token); `make lambda` needs only Go and python3 (or zip). With no
# arguments, `make deploy` deploys a stack that requires tokens signed with a
# secret it generates in Secrets Manager; `make token` mints one. Overrides:
#   make deploy PARAMS='AuthMode=open'          # the original tutorial's client: NO auth
#   make deploy STACK=chatapp-prod REGION=eu-west-1 \
#     PARAMS='Stage=prod MessagesTableName=chatapp-prod-messages ConnectionsTableName=chatapp-prod-userlist'
SAM ?= sam
AWS ?= aws
STACK ?= chatapp
REGION ?=
# Template parameters, Name=value separated by spaces (docs/deploy.md).
PARAMS ?=
SAM_FLAGS ?=
LAMBDA_DIR := bin/lambda
sam_region = $(if $(REGION),--region $(REGION))
sam_params = $(if $(strip $(PARAMS)),--parameter-overrides "$(strip $(PARAMS))")
# The open mode, however make's command line asks for it: AuthMode=open in
# PARAMS or in SAM_FLAGS' --parameter-overrides, in either of sam's forms
# (AuthMode=open, ParameterKey=AuthMode,ParameterValue=open), quoted or not.
# A samconfig.toml is not read here: the stack's OpenModeWarning output and
# the functions' cold-start log warn in every case.
comma := ,
open_mode_words := AuthMode=open ParameterKey=AuthMode$(comma)ParameterValue=open
open_mode = $(filter $(open_mode_words) $(addprefix --parameter-overrides=,$(open_mode_words)),\
	$(subst ',,$(subst ",,$(PARAMS) $(SAM_FLAGS))))

.PHONY: lambda deploy destroy outputs token

# The one bootstrap binary of every function (template.yaml's Handler picks
# which): static linux/arm64 for Graviton, without the RPC shim that only the
# retired go1.x runtime needed. sam deploy zips $(LAMBDA_DIR) itself;
# bin/lambda.zip is for uploading by hand (aws lambda update-function-code).
# python3's zipfile keeps the executable bit and is there when zip is not.
lambda:
	rm -rf $(LAMBDA_DIR) bin/lambda.zip
	mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" \
		-o $(LAMBDA_DIR)/bootstrap ./cmd/bootstrap
	cd $(LAMBDA_DIR) && if command -v python3 >/dev/null; then python3 -m zipfile -c ../lambda.zip bootstrap; \
		else zip -q -X ../lambda.zip bootstrap; fi
	@echo "built $(LAMBDA_DIR)/bootstrap and bin/lambda.zip"

# The bootstrap's size and what takes it (BENCHMARKS.md: target ≤ 10 MB).
.PHONY: lambda-size
lambda-size: lambda
	@echo "bootstrap: $$(stat -c %s $(LAMBDA_DIR)/bootstrap) bytes"
	@$(GO) version -m $(LAMBDA_DIR)/bootstrap | awk '$$1 == "dep" {print "  " $$2}'

# --resolve-s3: SAM's managed bucket holds the upload. CAPABILITY_IAM: the
# stack makes one role per function; CAPABILITY_AUTO_EXPAND: the template
# names two transforms (AWS::LanguageExtensions, AWS::Serverless). The
# template is named so that a stale .aws-sam/build from `sam build` is never
# deployed instead. Then the stack's URLs and how to mint a token.
deploy:
	@command -v $(SAM) >/dev/null || { echo "make deploy needs the AWS SAM CLI (docs/deploy.md)"; exit 1; }
	$(if $(open_mode),@echo "WARNING: AuthMode=open deploys a stack WITHOUT AUTHENTICATION: anyone with its URLs can read every room and post as any user_id. For the original tutorial's client only." >&2)
	$(MAKE) lambda
	$(SAM) deploy --template-file template.yaml --stack-name $(STACK) $(sam_region) \
		--resolve-s3 --s3-prefix $(STACK) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--no-fail-on-empty-changeset $(sam_params) $(SAM_FLAGS)
	@$(MAKE) -s outputs

# The stack's outputs (URLs, auth mode), then how to get a token, or the
# open mode's warning. A failed describe-stacks (no AWS CLI, no such stack
# in this Region, no credentials) or a stack without outputs fails, so that
# `make deploy` never ends "successfully" without its URLs.
outputs:
	@command -v $(AWS) >/dev/null || { echo "make outputs needs the AWS CLI (docs/deploy.md)" >&2; exit 1; }
	@out=$$($(AWS) cloudformation describe-stacks --stack-name $(STACK) $(sam_region) \
		--query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text) || exit 1; \
	case "$$out" in ""|None) echo "stack $(STACK) has no outputs: is its deploy complete? (aws cloudformation describe-stacks --stack-name $(STACK))" >&2; exit 1;; esac; \
	printf '%s\n' "$$out" | \
	awk -F '\t' '$$1 == "OpenModeWarning" {warn = $$2; next} \
		$$1 == "TokenCommand" {token = $$2; next} \
		{printf "%-28s %s\n", $$1, $$2} \
		END {if (token != "") print "\nA token for user U in room lobby (see docs/deploy.md):\n  " token; \
			if (warn != "") print "\n" warn > "/dev/stderr"}'

# A token for the stack's secret (AuthMode=secret): the AWS CLI reads the
# secret, which reaches `chatapp token` in its environment, never on a
# command line. USER_ID is required; ROOMS (comma-separated; default any
# room), NAME and TTL are optional. They reach the recipe in its
# environment, as they were typed ($(value): make expands nothing in them),
# and the shell quotes them there: a name like O'Brien, or any quote, $ or
# ; in them, is text, never shell syntax.
USER_ID ?=
ROOMS ?=
NAME ?=
TTL ?= 24h
CHATAPP ?= $(GO) run ./cmd/chatapp
# Command-line variables are exported to recipes, expanded: keep these four
# out of the environment, so that a $(shell ...) in them is never run.
unexport USER_ID NAME ROOMS TTL
token: export TOKEN_USER_ID = $(value USER_ID)
token: export TOKEN_ROOMS = $(value ROOMS)
token: export TOKEN_NAME = $(value NAME)
token: export TOKEN_TTL = $(value TTL)
token:
	@test -n "$$TOKEN_USER_ID" || { echo "usage: make token USER_ID=U [ROOMS=lobby,dev] [NAME=Ada] [TTL=24h] [STACK=$(STACK)]" >&2; exit 2; }
	@command -v $(AWS) >/dev/null || { echo "make token needs the AWS CLI (docs/deploy.md)" >&2; exit 1; }
	@arn=$$($(AWS) cloudformation describe-stacks --stack-name $(STACK) $(sam_region) \
		--query "Stacks[0].Outputs[?OutputKey=='AuthSecretArn'].OutputValue" --output text) || exit 1; \
	case "$$arn" in arn:*) ;; *) echo "stack $(STACK) has no AuthSecretArn output: its AuthMode is not secret" >&2; exit 1;; esac; \
	secret=$$($(AWS) secretsmanager get-secret-value --secret-id "$$arn" $(sam_region) --query SecretString --output text) || exit 1; \
	CHATAPP_AUTH_SECRET="$$secret" $(CHATAPP) token --user "$$TOKEN_USER_ID" --ttl "$$TOKEN_TTL" \
		$${TOKEN_NAME:+--name "$$TOKEN_NAME"} $${TOKEN_ROOMS:+--rooms "$$TOKEN_ROOMS"}

# Deletes the stack (both tables and their data included) and its uploads.
destroy:
	@command -v $(SAM) >/dev/null || { echo "make destroy needs the AWS SAM CLI (docs/deploy.md)"; exit 1; }
	$(SAM) delete --stack-name $(STACK) $(sam_region)

# The bootstrap for this machine, for `chatapp serve --functions rie`.
.PHONY: bootstrap-local
bootstrap-local:
	$(GO) build -tags lambda.norpc -o bin/local/bootstrap ./cmd/bootstrap

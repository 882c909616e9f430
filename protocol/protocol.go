// Package protocol is the chat's wire protocol, the one place every side
// takes it from: the HTTP status of each error code and the JSON error
// body, the REST API's query parameters, headers and bodies, and the
// WebSocket API's route keys and frames. The handlers and the gateway
// write it; the hub, the Go client and the load generator read it.
// docs/protocol.md describes it for everyone else, docs/openapi.yaml and
// docs/asyncapi.yaml for machines.
//
// The domain's own values (chatapp.Message, chatapp.Connection,
// chatapp.PresenceEvent) are written as their JSON tags say, with
// chatapp.MarshalJSON: this package holds what wraps them.
package protocol

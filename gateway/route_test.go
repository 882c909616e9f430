package gateway

import "testing"

func TestSelectRoute(t *testing.T) {
	routes := map[string]bool{"$connect": true, "$disconnect": true, "$default": true, "sendmessage": true}
	tests := []struct {
		name   string
		body   string
		binary bool
		want   string
	}{
		{"sendmessage", `{"action":"sendmessage"}`, false, "sendmessage"},
		{"sendmessage with text", `{"action":"sendmessage","text":"hi","name":"A"}`, false, "sendmessage"},
		{"action after other fields", `{"text":"hi","action":"sendmessage"}`, false, "sendmessage"},
		{"whitespace around", " \n{ \"action\" : \"sendmessage\" }\n", false, "sendmessage"},
		{"unknown action", `{"action":"nosuchroute"}`, false, "$default"},
		{"action differs in case", `{"action":"SendMessage"}`, false, "$default"},
		{"number action", `{"action":5}`, false, "$default"},
		{"bool action", `{"action":true}`, false, "$default"},
		{"object action", `{"action":{"name":"sendmessage"}}`, false, "$default"},
		{"array action", `{"action":["sendmessage"]}`, false, "$default"},
		{"null action", `{"action":null}`, false, "$default"},
		{"empty action", `{"action":""}`, false, "$default"},
		{"$connect as action", `{"action":"$connect"}`, false, "$default"},
		{"$disconnect as action", `{"action":"$disconnect"}`, false, "$default"},
		{"$default as action", `{"action":"$default"}`, false, "$default"},
		{"missing action", `{"text":"hi"}`, false, "$default"},
		{"empty object", `{}`, false, "$default"},
		{"empty frame", ``, false, "$default"},
		{"not JSON", `sendmessage`, false, "$default"},
		{"truncated JSON", `{"action":"sendmessage"`, false, "$default"},
		{"JSON array", `[{"action":"sendmessage"}]`, false, "$default"},
		{"JSON string", `"sendmessage"`, false, "$default"},
		{"JSON null", `null`, false, "$default"},
		{"binary frame", `{"action":"sendmessage"}`, true, "$default"},
		{"binary garbage", "\x00\xff\xfe", true, "$default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := selectRoute([]byte(tt.body), tt.binary, routes); got != tt.want {
				t.Errorf("selectRoute(%q, binary=%v) = %q, want %q", tt.body, tt.binary, got, tt.want)
			}
		})
	}
}

func TestSelectRouteOnlyConfiguredRoutes(t *testing.T) {
	// An action is a route only when the API configures it.
	routes := map[string]int{"$default": 1}
	if got := selectRoute([]byte(`{"action":"sendmessage"}`), false, routes); got != "$default" {
		t.Errorf("unconfigured sendmessage routed to %q", got)
	}
	routes["typing"] = 1
	if got := selectRoute([]byte(`{"action":"typing"}`), false, routes); got != "typing" {
		t.Errorf("configured typing routed to %q", got)
	}
}

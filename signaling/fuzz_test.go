package signaling

import (
	"encoding/json"
	"testing"
)

// FuzzParseMessage: no input makes the parser panic, and what it accepts
// is one object with a type.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"join","v":1,"token":"abc"}`,
		`{"type":"join","resume":{"participant":"p","secret":"s"}}`,
		`{"type":"offer","pc":"publish","sdp":"v=0","sources":{"0":"camera"}}`,
		`{"type":"candidate","pc":"subscribe","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`,
		`{"type":"update","audioMuted":true,"name":"Ada"}`,
		`{"type":"ping","id":3}`,
		`{"type":`, `[]`, `null`, `{"type":"x"} {"type":"y"}`, `{"type":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := parseMessage(data)
		if (in == nil) == (err == nil) {
			t.Fatalf("parseMessage(%q) = %v, %v: want exactly one", data, in, err)
		}
		if in == nil {
			return
		}
		if in.Type == "" {
			t.Fatalf("accepted a message without a type: %q", data)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			t.Fatalf("accepted something that is not a JSON object: %q", data)
		}
	})
}

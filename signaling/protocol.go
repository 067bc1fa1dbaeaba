package signaling

import (
	"encoding/json"

	"github.com/salonhq/salon/sfu"
)

// ProtocolVersion is the version of docs/protocol.md this package speaks.
const ProtocolVersion = 1

// inbound is every field a client message may carry; which ones matter
// depends on Type. Decoding into one flat struct keeps the parser simple and
// rejects wrongly typed fields with a clear error.
type inbound struct {
	Type       string            `json:"type"`
	V          int               `json:"v"`
	Token      string            `json:"token"`
	Resume     *resumeRef        `json:"resume"`
	PC         string            `json:"pc"`
	SDP        string            `json:"sdp"`
	Sources    map[string]string `json:"sources"`
	Candidate  json.RawMessage   `json:"candidate"`
	AudioMuted *bool             `json:"audioMuted"`
	VideoMuted *bool             `json:"videoMuted"`
	Name       *string           `json:"name"`
	ID         json.RawMessage   `json:"id"`
	Tracks     []sfu.View        `json:"tracks"`
}

type resumeRef struct {
	Participant string `json:"participant"`
	Secret      string `json:"secret"`
	// Room lets any node find the node that holds the participant's
	// place; clients send the object back as they got it.
	Room string `json:"room,omitempty"`
	// Node is the node that holds the place, where a resume is sent while
	// that node lives.
	Node string `json:"node,omitempty"`
}

// Participant is how one participant is described to the others.
type Participant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	AudioMuted bool   `json:"audioMuted"`
	VideoMuted bool   `json:"videoMuted"`
	Screen     bool   `json:"screen"`
	Connected  bool   `json:"connected"`
}

type joinedMsg struct {
	Type         string        `json:"type"`
	Protocol     int           `json:"protocol"`
	Self         Participant   `json:"self"`
	Resume       resumeRef     `json:"resume"`
	Participants []Participant `json:"participants"`
	Resumed      bool          `json:"resumed"`
	IceServers   []any         `json:"iceServers"`
}

type offerMsg struct {
	Type   string                  `json:"type"`
	PC     sfu.Direction           `json:"pc"`
	SDP    string                  `json:"sdp"`
	Tracks map[string]sfu.TrackRef `json:"tracks"`
}

type answerMsg struct {
	Type string        `json:"type"`
	PC   sfu.Direction `json:"pc"`
	SDP  string        `json:"sdp"`
}

type candidateMsg struct {
	Type      string        `json:"type"`
	PC        sfu.Direction `json:"pc"`
	Candidate any           `json:"candidate"`
}

type participantMsg struct {
	Type        string      `json:"type"`
	Participant Participant `json:"participant"`
}

type leftMsg struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal"`
	Ref     string `json:"ref,omitempty"`
}

type byeMsg struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// layersMsg tells a publisher which simulcast layers to keep encoding.
type layersMsg struct {
	Type   string   `json:"type"`
	Source string   `json:"source"`
	Active []string `json:"active"`
}

// speakersMsg lists who is speaking now, loudest first.
type speakersMsg struct {
	Type     string   `json:"type"`
	Speakers []string `json:"speakers"`
}

// pausedMsg lists the video tracks salon does not send to this subscriber
// for now, and why.
type pausedMsg struct {
	Type   string            `json:"type"`
	Tracks []sfu.PausedTrack `json:"tracks"`
}

type pongMsg struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

// protoError is a refusal sent to the client as an error message.
type protoError struct {
	code    string
	message string
	fatal   bool
}

func (e *protoError) Error() string { return e.code + ": " + e.message }

func errorf(code, message string) *protoError { return &protoError{code: code, message: message} }

func fatalf(code, message string) *protoError {
	return &protoError{code: code, message: message, fatal: true}
}

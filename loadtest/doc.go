// Package loadtest puts load on a running salon the way browsers do: each
// simulated participant asks for a join token, opens the signalling
// WebSocket, publishes synthetic VP8 simulcast video and Opus audio on a
// publish PeerConnection and receives everyone else's tracks on a subscribe
// PeerConnection (docs/protocol.md). It measures what a person would notice
// (time from joining to the first frame, loss, freezes) and what the
// operator pays (server CPU per forwarded packet, memory per participant).
//
// The media is synthetic: VP8 payloads carry a real RFC 7741 payload
// descriptor and a real frame header, so a VP8-aware SFU recognises
// keyframes and picture ids, but the frames cannot be decoded into images.
// Audio packets carry an Opus TOC byte and the RFC 6464 audio level.
//
// It owns neither salon's wire format nor its server: it speaks the
// protocol from the outside, over HTTP, WebSocket and WebRTC, and imports
// no other salon package. `salon loadtest` (cmd/salon) is its command line;
// docs/loadtest.md describes the flags and the report.
package loadtest

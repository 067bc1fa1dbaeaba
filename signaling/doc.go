// Package signaling owns salon's WebSocket signalling protocol (version 1,
// docs/protocol.md): one socket per participant at /ws, join tokens checked,
// presence (names, mute state, screen sharing) broadcast to the room, SDP
// and ICE candidates carried to and from package sfu, and reconnection with
// a grace period during which a participant keeps its place.
//
// It does not own media (package sfu) nor how tokens are made (package
// internal/auth); it only verifies them through TokenVerifier.
package signaling

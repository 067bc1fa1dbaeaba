// Package sfu is salon's media plane: a selective forwarding unit built on
// pion/webrtc v4.
//
// It owns rooms, the two PeerConnections of each participant (one on which
// the participant publishes, one on which it receives everyone else), the
// forwarding of RTP from each publication to its subscribers, keyframe
// requests, retransmissions from a per-track packet cache, and the UDP/TCP
// sockets that carry all media of the process.
//
// It does not own identity, names, mute state or the signalling wire: a
// caller (package signaling) authenticates participants, carries SDP and ICE
// candidates to the browser, and implements PeerEvents to hear from the SFU.
// This package imports no other salon package.
package sfu

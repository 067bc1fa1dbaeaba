// Package auth owns salon's proof of identity: the server key and the signed
// tokens made with it. Today that is the join token, which lets one display
// name into one meeting for a short while; users, password hashing, sessions
// and RSVP tokens arrive here later.
//
// It does not decide who may join which meeting (that is the web layer's
// policy) and it does not talk to the network.
package auth

// Package auth owns salon's proof of identity: user accounts (argon2id
// password hashes, app passwords for CalDAV clients, throttling of failed
// sign-ins, HTTP Basic authentication), the server key and the signed
// tokens made with it (the join token lets one display name into one
// meeting for a short while; the RSVP token lets one attendee answer one
// invitation). The signed-in user travels in the request
// context (WithUser, UserFromContext).
//
// It does not decide who may join which meeting or see which calendar
// (the web and calendar layers do), and it does not talk to the network.
package auth

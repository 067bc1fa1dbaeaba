// Package e2e holds tests that run the real salon binary and drive real
// clients against it: headless Chromium (via chromedp) with fake camera and
// microphone. They need root-free loopback only; `make test` runs them in a
// network namespace that has nothing but `lo`.
package e2e

#!/usr/bin/env bash
# make test: dependencies, vet, then every test with the race detector.
#
# Everything that may move WebRTC media runs inside a network namespace that
# has only the loopback interface (see ../shared/TESTING.md), so no media
# packet leaves the machine. Nothing in the namespace reaches the module
# proxy, so modules, the race-enabled salon binary and the test binaries'
# dependencies are built first, outside it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
export GOFLAGS="${GOFLAGS:-} -mod=mod"

echo "== go vet"
go mod download
go vet ./...

echo "== build"
mkdir -p bin
go build -race -o bin/salon-race ./cmd/salon
go test -race -count=1 -run '^$' ./... >/dev/null

if [ "$(id -u)" -eq 0 ]; then
	netns=(unshare --net --)
else
	netns=(unshare --net --map-root-user --)
fi
if ! "${netns[@]}" true 2>/dev/null; then
	echo "cannot create a network namespace (${netns[*]}); run make test as root" >&2
	exit 1
fi

inner='ip link set lo up && exec "$@"'
export GOPROXY=off SALON_BIN="$PWD/bin/salon-race" SALON_ARTIFACTS="${SALON_ARTIFACTS:-$PWD/bin/artifacts}"
pkgs=$(go list ./... | grep -v '/e2e$')

echo "== unit and integration tests (loopback-only namespace)"
"${netns[@]}" sh -c "$inner" sh go test -race -count=1 -timeout 15m $pkgs

echo "== end-to-end tests in headless Chromium (loopback-only namespace)"
"${netns[@]}" sh -c "$inner" sh go test -race -count=1 -timeout 20m -v ./e2e/

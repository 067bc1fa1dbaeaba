#!/usr/bin/env bash
# Installs the Debian packages salon's tests use, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

# command → Debian package that provides it
declare -A need=(
	[/usr/bin/chromium]=chromium
	[ip]=iproute2
	[unshare]=util-linux
	[vdirsyncer]=vdirsyncer
	[/usr/lib/python3/dist-packages/caldav/__init__.py]=python3-caldav
	[/usr/lib/postgresql]=postgresql
	[/usr/bin/redis-server]=redis-server
)
missing=()
for cmd in "${!need[@]}"; do
	if [[ $cmd == /* ]] && [ -e "$cmd" ]; then
		continue
	fi
	if ! command -v "$cmd" >/dev/null 2>&1; then
		missing+=("${need[$cmd]}")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "salon tests need these Debian packages: ${missing[*]}" >&2
	echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]} …"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null

#!/usr/bin/env bash
# Installs the Debian programs that some end-to-end tests drive for real, only when missing:
#   chromium  the browser that plays an MP4 through /stream (tests marked `browser`)
#   nginx     the reference static server /stream's range answers are compared with
#   redis-server  the shared limits' store (REDIS_URL), started by the tests on a free port
#   varnish   the local CDN edge in front of the devhost (tests, and `make run`)
# With arguments, only those (`make run` asks for varnish alone). Idempotent: with all present it only checks and exits. As root it installs them with apt;
# otherwise it prints what to install and exits 0, and the tests that need a missing program
# then fail saying so (they never skip: CI runs as root and must run them).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
NGINX=/usr/sbin/nginx
REDIS=/usr/bin/redis-server
VARNISHD=/usr/sbin/varnishd

wanted=("$@")
((${#wanted[@]})) || wanted=(chromium nginx redis-server varnish)
wants() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

missing=()
programs=()
if wants chromium; then programs+=($CHROMIUM); [[ -x $CHROMIUM ]] || missing+=(chromium); fi
# nginx-light is the smallest build with what the tests use (static files, ranges); Debian
# releases that dropped it have plain nginx.
if wants nginx; then
    programs+=($NGINX)
    if [[ ! -x $NGINX ]]; then
        if apt-cache show nginx-light >/dev/null 2>&1; then missing+=(nginx-light); else missing+=(nginx); fi
    fi
fi
if wants redis-server; then programs+=($REDIS); [[ -x $REDIS ]] || missing+=(redis-server); fi
if wants varnish; then programs+=($VARNISHD); [[ -x $VARNISHD ]] || missing+=(varnish); fi

if ((${#missing[@]} == 0)); then
    exit 0
fi

if ((EUID != 0)); then
    echo "install-test-tools: missing ${missing[*]}; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 0
fi

# Debian's nginx, redis-server and varnish packages start their system services (80, 6379, 6081)
# after installing; the tests start their own, so forbid service starts during this install
# unless a policy already decides (Docker images ship one that forbids them).
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-test-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

for program in "${programs[@]}"; do
    [[ -x $program ]] || { echo "install-test-tools: $program still missing" >&2; exit 1; }
done

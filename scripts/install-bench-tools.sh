#!/usr/bin/env bash
# Installs the Debian programs the media benchmark compares the service with, only when
# missing:
#   vipsthumbnail  (libvips-tools)  the fastest thumbnailer there is, the target to match
#   convert        (imagemagick)    what most services shell out to
#   /usr/bin/time  (time)           peak memory of each program (its own, not its parent's)
# As root it installs them with apt; otherwise it prints what to install and exits 0, and
# the benchmark prints "not installed" on their rows.
set -euo pipefail

missing=()
command -v vipsthumbnail >/dev/null || missing+=(libvips-tools)
[[ -x /usr/bin/convert ]] || missing+=(imagemagick)
[[ -x /usr/bin/time ]] || missing+=(time)

if ((${#missing[@]} == 0)); then
    exit 0
fi
if ((EUID != 0)); then
    echo "install-bench-tools: missing ${missing[*]}; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 0
fi
echo "install-bench-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

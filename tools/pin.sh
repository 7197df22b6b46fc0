#!/bin/sh
# pin.sh GO_MOD MODULE: the version GO_MOD requires of MODULE. go.mod files
# are where every version is pinned; the Makefile and the Dockerfile read
# them through this script instead of repeating them.
set -eu
[ $# -eq 2 ] || { echo "usage: pin.sh GO_MOD MODULE" >&2; exit 2; }
v=$(awk -v m="$2" '
  $1 == "require" && $2 == m { print $3; exit }
  $1 == "require" && $2 == "(" { block = 1; next }
  block && $1 == ")" { block = 0; next }
  block && $1 == m { print $2; exit }
' "$1")
[ -n "$v" ] || { echo "pin.sh: $1 does not require $2" >&2; exit 1; }
echo "$v"

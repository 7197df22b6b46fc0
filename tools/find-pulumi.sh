#!/usr/bin/env bash
# Prints the Pulumi CLI `make up/preview/down` should use, or says how to
# get one and fails, before anything is built or created.
#
# `pulumi up` of this runtime: go project needs the Go language host,
# pulumi-language-go. The official CLI bundles it; a CLI built from source
# (make pulumi) has none, and language hosts are never downloaded. So:
#   1. an installed official CLI, v3.246.0 or newer in major 3;
#   2. else ./bin/pulumi (make pulumi) with pulumi-language-go beside it or
#      on PATH (offline: ../shared/pulumi/install.sh puts it there).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
min_minor=246

has_host() { [[ -x $(dirname "$1")/pulumi-language-go ]] || command -v pulumi-language-go >/dev/null; }

if official=$(command -v pulumi 2>/dev/null) && [[ $official != "$root/bin/pulumi" ]]; then
  version=$("$official" version 2>/dev/null || true)
  if [[ $version =~ ^v3\.([0-9]+)\. ]] && ((BASH_REMATCH[1] >= min_minor)) && has_host "$official"; then
    echo "$official"
    exit 0
  fi
  echo "find-pulumi: ignoring $official ($version): need v3.$min_minor.0 or newer with its pulumi-language-go" >&2
fi
if [[ -x $root/bin/pulumi ]] && has_host "$root/bin/pulumi"; then
  echo "$root/bin/pulumi"
  exit 0
fi
cat >&2 <<MSG
No Pulumi CLI that can run this Go program: nothing was built or created.
  - Install the official Pulumi CLI v3.246.0 (it bundles the Go language host):
      curl -fsSL https://get.pulumi.com | sh -s -- --version 3.246.0
    or see https://www.pulumi.com/docs/iac/download-install/
  - Offline, with the pinned CLI from source: make pulumi, then put
    pulumi-language-go v3.246.0 beside bin/pulumi (../shared/pulumi/install.sh
    "\$PULUMI_HOME" bin does). A CLI built from source has no language host,
    and the CLI never downloads one.
MSG
exit 1

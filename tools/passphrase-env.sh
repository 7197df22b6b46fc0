#!/bin/sh
# passphrase-env.sh STACK: checks the passphrase settings for a platform
# stack as the Pulumi CLI reads them (PULUMI_CONFIG_PASSPHRASE first, set
# even when empty, else PULUMI_CONFIG_PASSPHRASE_FILE) and prints the shell
# line to eval before the CLI runs. Only the dev stack may use the empty
# passphrase; it gets it when neither is set. Anything else stops here,
# before the CLI creates or encrypts anything.
set -eu
[ $# -eq 1 ] || { echo "usage: passphrase-env.sh STACK" >&2; exit 2; }
stack=$1
how="write a passphrase to a file only you can read and export PULUMI_CONFIG_PASSPHRASE_FILE=<file> (or export PULUMI_CONFIG_PASSPHRASE)"
if [ "${PULUMI_CONFIG_PASSPHRASE+set}" = set ] && [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  echo "PULUMI_CONFIG_PASSPHRASE and PULUMI_CONFIG_PASSPHRASE_FILE are both set: the Pulumi CLI would use the first and ignore the file; unset one" >&2
  exit 1
fi
if [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -r "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
    echo "PULUMI_CONFIG_PASSPHRASE_FILE: cannot read $PULUMI_CONFIG_PASSPHRASE_FILE" >&2
    exit 1
  fi
  if [ -z "$(tr -d '\r\n' < "$PULUMI_CONFIG_PASSPHRASE_FILE")" ]; then
    echo "PULUMI_CONFIG_PASSPHRASE_FILE: $PULUMI_CONFIG_PASSPHRASE_FILE is empty; put the passphrase in it" >&2
    exit 1
  fi
  exit 0
fi
if [ -n "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
  exit 0
fi
if [ "$stack" = dev ]; then
  [ "${PULUMI_CONFIG_PASSPHRASE+set}" = set ] || echo "export PULUMI_CONFIG_PASSPHRASE="
  exit 0
fi
echo "stack $stack: no passphrase (only dev may use the empty one): $how" >&2
exit 1

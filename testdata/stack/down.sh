#!/usr/bin/env bash
# down.sh: stop the mailflow test stack started by up.sh and remove its
# directory ${MAILFLOW_STACK_DIR:-/tmp/mailflow-stack}.
#
# Daemons are stopped only through their pid files under $DIR/run/ (SIGTERM,
# up to 10 s, then SIGKILL), never by process name. Safe to run when nothing is
# up, and more than once.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

check_dir || exit 1

if [[ ! -e "$DIR" ]]; then
  echo "down.sh: nothing to do: $DIR does not exist"
  exit 0
fi
if [[ ! -f "$DIR/$MARKER" ]] && [[ -n "$(ls -A "$DIR")" ]]; then
  echo "down.sh: $DIR is not a mailflow stack directory (no $MARKER): leaving it alone" >&2
  exit 1
fi

stop_all || {
  echo "down.sh: some daemons did not stop; $DIR kept for inspection" >&2
  exit 1
}
remove_dir
echo "down.sh: stack in $DIR stopped and removed"

#!/usr/bin/env bash
# Runs the whole test suite. pytest's exit code 5 ("no tests collected") means the
# suite is broken, so it is reported as a failure, never as a silent pass.
set -u
cd "$(dirname "$0")/.."
.venv/bin/pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
exit "$rc"

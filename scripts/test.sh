#!/usr/bin/env bash
# Set up, build, and run the whole test suite: unit tests and runtime (BPF) tests. Runtime tests
# need root; under CI=true they fail instead of skipping. Extra arguments go to ctest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" "$top/build"
cd "$top/build"
exec ctest --output-on-failure --timeout 900 "$@"

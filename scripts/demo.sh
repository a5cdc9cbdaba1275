#!/usr/bin/env bash
# Quick start: set up, build, and run the demo (the GNU-libunwind workload under a signal storm,
# traced by `unwindtrace attach`). Extra arguments go to `unwindtrace demo`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" "$top/build"
exec "$top/build/unwindtrace" demo "$@"

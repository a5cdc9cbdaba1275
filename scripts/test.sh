#!/usr/bin/env bash
# Set up, build, and run the whole test suite: unit tests and runtime (BPF) tests. Runtime tests
# need root; under CI=true they fail instead of skipping. Extra arguments go to ctest.
# Then the sanitizer run: the unit and runtime tests again from build-asan (-DUT_SANITIZE=ON:
# ASan + UBSan in the tool and the tests), where any sanitizer report fails the run.
# UT_SANITIZE_RUN=0 leaves it out.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" "$top/build"
cd "$top/build"
ctest --output-on-failure --timeout 900 "$@"

[ "${UT_SANITIZE_RUN:-1}" = 0 ] && exit 0
asan=$top/build-asan
if [ ! -f "$asan/build.ninja" ]; then
  cmake -S "$top" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUT_SANITIZE=ON \
        -DUT_FUZZ_SMOKE=OFF
fi
cmake --build "$asan"
# halt_on_error: the first report ends the process with a failing status; leaks fail it too.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$asan"
exec ctest --output-on-failure --timeout 900 -L 'unit|runtime' "$@"

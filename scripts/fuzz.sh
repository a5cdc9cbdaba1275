#!/usr/bin/env bash
# Fuzzes the object-analysis path (user/analysis/) with libFuzzer, ASan and UBSan.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET]
#   SECONDS  run time of each fuzzer (default 60)
#   TARGET   elf (fuzz_elf_object: bytes as an ELF file through ElfObject and analyse_object),
#            routine (fuzz_analyse_routine: bytes as a routine's code), or all (default: both,
#            one after the other, on one core)
# Builds the fuzzers with clang in UT_FUZZ_BUILD (default build-fuzz; reused), rebuilds the seed
# corpus (tests/fuzz/build_seeds.sh) in UT_FUZZ_WORK/seeds (default UT_FUZZ_BUILD/work), then
# runs each fuzzer over its corpus in UT_FUZZ_WORK/corpus, which keeps the inputs found so far.
# Prints runs, runs/s, coverage, corpus size and findings. A crash, leak, timeout or
# out-of-memory input is saved in UT_FUZZ_WORK/artifacts/TARGET/ and printed; reproduce with
# UT_FUZZ_WORK/bin/BINARY FILE.
# UT_FUZZ_FRESH=1 starts from the seeds alone (the fuzz smoke test: same work every time).
# Exit codes: 0 nothing found, 1 a finding, 2 usage, 3 the build failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
target=${2:-all}
build=${UT_FUZZ_BUILD:-$top/build-fuzz}
work=${UT_FUZZ_WORK:-$build/work}
rss_mb=${UT_FUZZ_RSS_MB:-2048}

case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2;; esac
case "$target" in
  elf) targets=(elf);;
  routine) targets=(routine);;
  all) targets=(elf routine);;
  *) echo "fuzz.sh: TARGET must be elf, routine or all, got '$target'" >&2; exit 2;;
esac

cxx=$(command -v clang++-14 || command -v clang++ || true)
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cxx" ] || [ -z "$cc" ]; then
  echo "fuzz.sh: clang is not installed (scripts/setup.sh installs it)" >&2
  exit 3
fi

# One build at a time: the fuzz smoke test and a long run may start together.
mkdir -p "$build"
(
  flock 9
  if [ ! -f "$build/build.ninja" ]; then
    CC=$cc CXX=$cxx cmake -S "$top/tests/fuzz" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE= >/dev/null
  fi
  cmake --build "$build" >"$build/build.log" 2>&1 || { cat "$build/build.log" >&2; exit 3; }
  "$top/tests/fuzz/build_seeds.sh" "$build" "$work/seeds"
) 9>"$build/.lock" || exit 3

# Each run works on its own copy of the binaries: a rebuild does not pull them from under it
# (and a copy replaces, never overwrites, one that may be running).
mkdir -p "$work/bin"
for b in fuzz_elf_object fuzz_analyse_routine; do
  cp "$build/$b" "$work/bin/$b.tmp" && mv -f "$work/bin/$b.tmp" "$work/bin/$b"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

found=0
for t in "${targets[@]}"; do
  case "$t" in
    elf) binary=fuzz_elf_object; max_len=$((256 * 1024));;
    routine) binary=fuzz_analyse_routine; max_len=8192;;
  esac
  corpus=$work/corpus/$t
  artifacts=$work/artifacts/$t
  log=$work/$t.log
  [ "${UT_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  marker=$(mktemp)
  echo "fuzz.sh: $binary for ${seconds}s (log $log)"
  # New inputs go to the first directory; the seeds are read only. One process, one core.
  set +e
  "$work/bin/$binary" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=20 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "$work/seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  status=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  echo "  runs ${runs:-?}, ${rate:-?} runs/s, coverage ${cov:-?} edges (${ft:-?} features)," \
       "corpus $(ls "$corpus" | wc -l) inputs found + $(ls "$work/seeds/$t" | wc -l) seeds"
  new=$(find "$artifacts" -type f -newer "$marker" | sort)
  rm -f "$marker"
  if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
    found=1
    echo "  FINDING (libFuzzer exit $rc):"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" |
      head -20 | sed 's/^/    /'
    for f in $new; do echo "    saved: $f"; done
    echo "    reproduce: $work/bin/$binary <saved file>; full log: $log"
  else
    echo "  no crash, leak, timeout or out-of-memory"
  fi
done
exit "$found"

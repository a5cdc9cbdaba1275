#!/usr/bin/env bash
# Builds the seed corpora of the two fuzzers from real objects on this host and the project's
# fixtures. Usage: tests/fuzz/build_seeds.sh FUZZ_BUILD_DIR OUTDIR
#   OUTDIR/elf      whole objects (<= 256 KiB each, deduplicated) for fuzz_elf_object
#   OUTDIR/routine  machine code of known, swept and ordinary routines for fuzz_analyse_routine,
#                   extracted with the project's own analysis (fuzz_seed_routines)
# Objects missing on this host are skipped; the corpus is rebuilt from scratch each time.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: build_seeds.sh FUZZ_BUILD_DIR OUTDIR}
out=${2:?usage: build_seeds.sh FUZZ_BUILD_DIR OUTDIR}
max_bytes=$((256 * 1024))

# Debian's unwinders (GNU libunwind 1.6.2, LLVM libunwind 14 and 16, libgcc), small libraries,
# and a small PIE program.
system_objects=(
  /usr/lib/x86_64-linux-gnu/libunwind.so.8
  /usr/lib/x86_64-linux-gnu/libunwind-ptrace.so.0
  /usr/lib/x86_64-linux-gnu/libunwind-coredump.so.0
  /usr/lib/llvm-14/lib/libunwind.so.1
  /opt/unwindtrace/libunwind-16/usr/lib/llvm-16/lib/libunwind.so.1
  /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
  /usr/lib/x86_64-linux-gnu/libdl.so.2
  /usr/lib/x86_64-linux-gnu/libz.so.1
  /usr/bin/true
)
# The assembly fixtures (libut_*.so, the i386 object, the program with static GNU libunwind),
# each from the first build of the project that has it (build/ first), and this build's
# stand-in libc.
fixture_objects=()
declare -A fixture_seen=()
for dir in "$top"/build/tests/fixtures "$top"/build*/tests/fixtures; do
  [ -d "$dir" ] || continue
  for f in "$dir"/libut_*.so "$dir"/ut_i386.o "$dir"/ut_static_libunwind; do
    [ -f "$f" ] && [ -z "${fixture_seen[$(basename "$f")]:-}" ] || continue
    fixture_seen[$(basename "$f")]=1
    fixture_objects+=("$f")
  done
done
fixture_objects+=("$build/libut_fuzz_mini_libc.so")

rm -rf "$out"
mkdir -p "$out/elf" "$out/routine"
objects=()
for f in "${system_objects[@]}" "${fixture_objects[@]}"; do
  real=$(readlink -f "$f" 2>/dev/null) || continue
  [ -f "$real" ] || continue
  size=$(stat -c %s "$real")
  [ "$size" -le "$max_bytes" ] || { echo "build_seeds: leaving out $f ($size bytes, over the $max_bytes-byte seed limit)"; continue; }
  sum=$(sha1sum "$real" | cut -c1-12)
  name=$(basename "$f")-$sum
  [ -e "$out/elf/$name" ] && continue
  if compgen -G "$out/elf/*-$sum" >/dev/null; then continue; fi  # same bytes, other build dir
  cp "$real" "$out/elf/$name"
  objects+=("$out/elf/$name")
done

# Routine code: the objects above, plus libc.so.6 (its __longjmp and setcontext).
"$build/fuzz_seed_routines" "$out/routine" "${objects[@]}" /lib/x86_64-linux-gnu/libc.so.6 \
  > "$out/routine.log"
echo "build_seeds: $(ls "$out/elf" | wc -l) objects ($(du -sk "$out/elf" | cut -f1) KiB)," \
     "$(ls "$out/routine" | wc -l) routines"

#!/usr/bin/env bash
# Makes this machine able to build and run unwindtrace, then builds it. Idempotent: installs only
# the Debian packages that are missing, mounts tracefs if absent, reconfigures only when needed.
# Usage: scripts/setup.sh [BUILD_DIR]   (default: build; set UT_BUILD_TYPE to override RelWithDebInfo)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

packages=(
  # toolchain
  g++ make cmake ninja-build pkg-config clang llvm
  # BPF: libbpf, skeleton generator
  libbpf-dev bpftool
  # libraries: ELF, disassembler, CLI, formatting, JSON, tests
  libelf-dev zlib1g-dev libcapstone-dev libcli11-dev libfmt-dev nlohmann-json3-dev libgtest-dev
  # Poisson confidence intervals of the exposure model (header-only)
  libboost-math-dev
  # the unwinders the bundled workload is built against: GNU libunwind 1.6.2, LLVM libunwind 14
  libunwind8 libunwind-14
  # GNU libunwind's static archive, linked into an analysis test fixture
  libunwind-dev
  # libFuzzer and the sanitizer runtimes for clang 14 (scripts/fuzz.sh, the fuzz smoke test)
  libclang-rt-14-dev
  # fleet: count statistics (Boost.Math, header-only), the metrics registry and its HTTP endpoint
  libboost-dev prometheus-cpp-dev libcpp-httplib-dev
  # fleet tests: a real Prometheus scrapes the metrics endpoint; systemd-analyze checks the units
  prometheus systemd
  # scripts/soak.sh and scripts/bench_load.sh read the JSON results
  jq
)
# kubectl validates deploy/ manifests (client-side dry run). Debian's kubernetes-client conflicts
# with another kubectl package that some machines carry: only install it when there is none.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs packages and BPF needs root): sudo $0 $*" >&2
  exit 4
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# LLVM libunwind 16 for the analysis tests: Debian's libunwind-16 conflicts with libunwind-14
# (both ship libunwind.so.1), so its package is unpacked beside the system instead of installed.
llvm16=/opt/unwindtrace/libunwind-16
if [ ! -e "$llvm16/usr/lib/llvm-16/lib/libunwind.so.1" ]; then
  tmp=$(mktemp -d) && chmod 755 "$tmp"  # apt-get download runs as _apt
  mkdir -p "$llvm16"
  (cd "$tmp" && apt-get download -qq libunwind-16 2>/dev/null) && dpkg-deb -x "$tmp"/libunwind-16_*.deb "$llvm16"
  rm -rf "$tmp"
fi

# tp_btf and uprobes do not need tracefs, but tracepoint: probes (bpftrace, benchmarks) do.
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing || echo "setup.sh: warning: cannot mount tracefs" >&2
fi
[ -r /sys/kernel/btf/vmlinux ] || echo "setup.sh: warning: no /sys/kernel/btf/vmlinux: BPF programs will not load" >&2

if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${UT_BUILD_TYPE:-RelWithDebInfo}"
fi
cmake --build "$build"

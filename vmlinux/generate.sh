#!/usr/bin/env bash
# Regenerates vmlinux/vmlinux.h from the running kernel's BTF. The checked-in header lets the
# BPF programs build on machines without BTF tooling; CO-RE relocations adapt them at load time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "generate.sh: $btf not readable: this kernel lacks BTF (CONFIG_DEBUG_INFO_BTF)" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "generate.sh: bpftool missing: run scripts/setup.sh" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$here/vmlinux.h.tmp"
mv "$here/vmlinux.h.tmp" "$here/vmlinux.h"
echo "wrote $here/vmlinux.h from $btf ($(uname -r))"

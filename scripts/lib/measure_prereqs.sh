# Sourced by scripts/soak.sh, bench_load.sh and bench_budget.sh after they set `top`: sets `tool`
# and `workload` from the build (UT_BUILD_DIR, default build/) and stops with a one-line reason
# when the build, root or jq is missing.
build=${UT_BUILD_DIR:-$top/build}
tool=$build/unwindtrace
workload=$build/workload/unwindtrace-workload-gnu
me=$(basename "$0")
[ -x "$tool" ] && [ -x "$workload" ] || { echo "$me: build first: scripts/setup.sh" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$me: run as root (BPF)" >&2; exit 4; }
command -v jq >/dev/null || { echo "$me: needs jq (scripts/setup.sh installs it)" >&2; exit 2; }

// Where a process lives on a host with containers: its PID as its own namespace sees it, its
// cgroup, and the container runtime's id for it, so records from a host can be joined with the
// orchestrator's view (which knows containers, not host PIDs).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace ut::proc {

struct ProcessPlacement {
  std::optional<int> namespace_pid;  // innermost NSpid, only when it differs from the host PID
  std::string cgroup;                // cgroup v2 path ("0::" line); a v1 path when v2 says "/"
  std::string container_id;          // 64 hex digits from the cgroup path, "" outside containers
};

// Never throws: a vanished process or an unreadable file leaves the fields empty.
ProcessPlacement read_process_placement(pid_t pid);

// Pure parsers of /proc/PID/status, /proc/PID/cgroup and a cgroup path.
std::optional<int> innermost_nspid(std::string_view status_text);
std::string cgroup_path(std::string_view cgroup_text);
// docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope, /docker/<id>,
// /kubepods/.../<id>: the last path component holding a run of 64 hex digits.
std::string container_id_from_cgroup(std::string_view path);

}  // namespace ut::proc

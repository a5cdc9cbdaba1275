// What every libbpf lifecycle here shares (BpfTracer, Injector): the BTF check made before a
// skeleton is opened, errors that say what failed and what to do, and owned links.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "errors.h"

struct bpf_link;

namespace ut::trace {

// UserError(KernelFeature): "what: strerror(err) (err): hint".
UserError kernel_error(const std::string& what, int err, const std::string& hint);

// Throws kernel_error unless the kernel exposes BTF, which every program here rests on.
void require_kernel_btf();

struct LinkDeleter {
  void operator()(bpf_link* link) const;
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;  // detaches when destroyed

// Detaches every link and empties the vector. Detaching a uprobe waits for an RCU grace period
// (about 0.1 s each on these VMs); released in parallel, the waits overlap.
void destroy_links(std::vector<LinkPtr>& links) noexcept;

}  // namespace ut::trace

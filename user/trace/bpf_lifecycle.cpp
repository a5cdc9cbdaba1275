#include "trace/bpf_lifecycle.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace ut::trace {

UserError kernel_error(const std::string& what, int err, const std::string& hint) {
  return UserError(ExitCode::KernelFeature, fmt::format("{}: {} ({}){}{}", what, std::strerror(err), err,
                                                        hint.empty() ? "" : ": ", hint));
}

void require_kernel_btf() {
  // Probed before libbpf fails less clearly.
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    throw kernel_error("this kernel exposes no BTF (/sys/kernel/btf/vmlinux)", errno,
                       "unwindtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF");
}

void LinkDeleter::operator()(bpf_link* link) const { bpf_link__destroy(link); }

void destroy_links(std::vector<LinkPtr>& links) noexcept {
  std::vector<std::thread> threads;
  try {
    threads.reserve(links.size());
  } catch (const std::exception&) {
    links.clear();  // one at a time, then
    return;
  }
  for (auto& link : links) {
    try {
      threads.emplace_back([raw = link.get()] { bpf_link__destroy(raw); });
      (void)link.release();
    } catch (const std::exception&) {
      link.reset();  // no thread to spare: detach it here
    }
  }
  for (auto& thread : threads) thread.join();
  links.clear();
}

}  // namespace ut::trace

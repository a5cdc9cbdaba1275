#include "model/unwinder_routines.h"

#include <utility>

namespace ut::model {

std::vector<UnwinderRoutine> unwinder_routines(std::span<const TracedRoutine> routines) {
  std::vector<UnwinderRoutine> out;
  for (const auto& r : routines) {
    UnwinderRoutine u{r.symbol, r.start, r.start + r.window.size, {}};
    for (const auto& insn : r.window.listing)
      if (insn.text.starts_with("ret")) u.ret_addrs.push_back(r.start + insn.offset);
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace ut::model

#include "output/calibration_text.h"

#include <algorithm>

#include <fmt/format.h>

namespace ut::output {

namespace {

std::string ranges_text(const std::vector<host::ByteRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) out += fmt::format(" [{},{}) {} B", r.begin, r.end, r.end - r.begin);
  return out.empty() ? " none" : out;
}

}  // namespace

std::vector<host::ByteRange> frame_holes(const host::FrameLayout& layout) {
  std::vector<host::ByteRange> covered = layout.written;
  covered.insert(covered.end(), layout.written_if_vector_state.begin(), layout.written_if_vector_state.end());
  std::sort(covered.begin(), covered.end(), [](auto& a, auto& b) { return a.begin < b.begin; });
  std::vector<host::ByteRange> holes;
  int32_t at = -static_cast<int32_t>(layout.frame_bytes);
  for (const auto& r : covered) {
    if (r.begin > at) holes.push_back({at, r.begin});
    at = std::max(at, r.end);
  }
  if (at < 0) holes.push_back({at, 0});
  return holes;
}

std::string calibration_text(const host::Calibration& c) {
  std::string out = fmt::format("Host: {} ({}), kernel {}; measured {}\n", c.key.cpu_model,
                                c.key.cpu_signature, c.key.kernel_release, c.measured_at);
  out += fmt::format("XSAVE: XCR0 {:#x}, area {} bytes:", c.key.xcr0, c.key.xsave_area_bytes);
  for (const auto& x : c.xsave.components) out += fmt::format(" {}@{}+{}", x.name, x.offset, x.size);
  const auto size = c.frame.size();
  out += fmt::format("\nSignal frame: {}-{} bytes below SP-128 (the red zone), depending on SP mod 64\n",
                     size.min_bytes, size.max_bytes);
  out += "Offsets below are bytes relative to SP-128; the other alignments are in --json.\n";
  for (const auto& layout : c.frame.layouts) {
    if (layout.top_align != 0) continue;
    out += fmt::format("  (SP-128) mod 64 = 0, {} handler: frame {} bytes\n",
                       layout.siginfo ? "SA_SIGINFO" : "plain", layout.frame_bytes);
    out += fmt::format("    written:{}\n", ranges_text(layout.written));
    std::vector<host::ByteRange> constant;
    for (const auto& run : layout.written_constant)
      constant.push_back({run.begin, run.begin + static_cast<int32_t>(run.values.size())});
    out += fmt::format("    of which always the same value (a slot holding it is not changed):{}\n", ranges_text(constant));
    if (!layout.written_if_vector_state.empty())
      out += fmt::format("    written only with AVX state in use:{}\n", ranges_text(layout.written_if_vector_state));
    out += fmt::format("    never written (holes):{}\n", ranges_text(frame_holes(layout)));
  }
  if (!c.landing) {
    out += "Landing calibration: none (unwindtrace calibrate --landing SECONDS)\n";
    return out;
  }
  const auto& l = *c.landing;
  out += fmt::format("Landing calibration ({}, {} storm(s), {:.0f} s in all, on the bundled workload: {}): {} "
                     "resumes, {} interrupt-delivered signals ({} at a syscall return)\n",
                     l.symbol, l.storms, l.duration_s, host::landing_workload_text(l.workload), l.resumes,
                     l.async_signals, l.syscall_signals);
  out += fmt::format("  {:>8} {:>9} {:>12} {:>25}  {}\n", "offset", "landings", "w (s)", "95 % interval", "");
  for (const auto& i : l.instructions) {
    bool window = std::find(l.window_offsets.begin(), l.window_offsets.end(), i.offset) != l.window_offsets.end();
    out += fmt::format("  {:>#8x} {:>9} {:>12.3g} {:>12.3g}-{:<12.3g}  {}\n", i.offset, i.landings, i.w_s,
                       i.w_low_s, i.w_high_s, window ? "window" : "");
  }
  return out;
}

}  // namespace ut::output

// The CPU's XSAVE state components the kernel saves in a signal frame: which are enabled (XCR0),
// where each lies in the XSAVE area and how large it is (CPUID leaf 0xD). They decide the frame's
// size and its unwritten holes, so a calibration is only valid while they stay the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ut::host {

struct XsaveComponent {
  uint32_t bit = 0;  // XCR0 bit
  std::string name;  // "x87", "sse", "avx", "opmask", "zmm_hi256", ...
  uint32_t offset = 0;  // in the standard (non-compacted) XSAVE area, as signal frames use it
  uint32_t size = 0;
};

struct XsaveFeatures {
  bool supported = false;      // CPUID.1:ECX.OSXSAVE
  uint64_t xcr0 = 0;           // enabled components
  uint32_t area_bytes = 0;     // CPUID.(0xD,0).EBX: XSAVE area size for the enabled components
  std::vector<XsaveComponent> components;  // enabled ones, by bit
  std::string cpu_signature;   // CPUID.1:EAX family/model/stepping, "family 25 model 17 stepping 1"
  bool avx512 = false;         // the opmask/ZMM components are enabled
  bool avx = false;
};

XsaveFeatures read_xsave_features();
const char* xsave_component_name(uint32_t bit);  // "bit N" names are built by the caller

}  // namespace ut::host

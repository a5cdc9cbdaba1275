#include "host/xsave_features.h"

#include <cpuid.h>

#include <fmt/format.h>

namespace ut::host {

namespace {

constexpr uint32_t kXsaveLeaf = 0xd;
constexpr uint64_t kAvxBit = 1ull << 2;
constexpr uint64_t kAvx512Bits = (1ull << 5) | (1ull << 6) | (1ull << 7);

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  asm volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

std::string cpu_signature() {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return "";
  uint32_t family = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
  if (family == 0xf) family += (eax >> 20) & 0xff;
  if (family == 0x6 || family >= 0xf) model |= ((eax >> 16) & 0xf) << 4;
  return fmt::format("family {} model {} stepping {}", family, model, eax & 0xf);
}

}  // namespace

const char* xsave_component_name(uint32_t bit) {
  static const char* const names[] = {"x87",       "sse",       "avx",        "bndregs", "bndcsr",
                                      "opmask",    "zmm_hi256", "hi16_zmm",   "pt",      "pkru",
                                      "pasid",     "cet_user",  "cet_supervisor", "hdc", "uintr",
                                      "lbr",       "hwp",       "xtilecfg",   "xtiledata"};
  return bit < std::size(names) ? names[bit] : nullptr;
}

XsaveFeatures read_xsave_features() {
  XsaveFeatures features;
  features.cpu_signature = cpu_signature();
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return features;
  features.supported = true;
  features.xcr0 = read_xcr0();
  features.avx = features.xcr0 & kAvxBit;
  features.avx512 = (features.xcr0 & kAvx512Bits) == kAvx512Bits;
  __cpuid_count(kXsaveLeaf, 0, eax, ebx, ecx, edx);
  features.area_bytes = ebx;
  for (uint32_t bit = 0; bit < 64; ++bit) {
    if (!(features.xcr0 & (1ull << bit))) continue;
    XsaveComponent component;
    component.bit = bit;
    const char* name = xsave_component_name(bit);
    component.name = name ? name : fmt::format("bit {}", bit);
    if (bit < 2) {  // the legacy region: x87 and SSE share the first 512 bytes
      component.offset = 0;
      component.size = 512;
    } else {
      __cpuid_count(kXsaveLeaf, bit, eax, ebx, ecx, edx);
      component.size = eax;
      component.offset = ebx;
    }
    features.components.push_back(component);
  }
  return features;
}

}  // namespace ut::host

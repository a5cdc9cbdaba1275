// validate's report: the padding sweep's parsing and D ranges, signal names, the verdict and the
// JSON fields docs/validate.md documents.
#include "validate/validate_report.h"

#include <gtest/gtest.h>

#include <csignal>

#include "host/signal_names.h"

namespace ut::validate {
namespace {

SiteResult site_result(uint64_t offset, Outcome outcome, uint64_t d) {
  SiteResult r;
  r.site = {offset,         offset - 7, SiteKind::ReturnAddress, "mov rcx, qword ptr [rdi + 0xa8]",
            "mov rsp, ...", {}};
  r.outcome = outcome;
  r.d_min = d;
  r.d_max = d + 32;
  r.counters[UT_INJ_DELIVERED] = 10;
  r.counters[UT_INJ_LANDED] = 10;
  r.landing_events = 10;
  r.reason = "because";
  return r;
}

ValidateResult one_site(Outcome outcome, uint64_t d = 2096) {
  ValidateResult r;
  r.sig = SIGPROF;
  r.count = 10;
  r.frame = host::FrameSize{2896, 2944};
  r.routines.push_back({"/usr/lib/libunwind.so.8", "abcd", "_Ux86_64_setcontext", "GNU libunwind", {}, true});
  r.sites.push_back(site_result(0x52, outcome, d));
  return r;
}

TEST(ValidateSweep, ParsesInclusiveRanges) {
  EXPECT_EQ(parse_padding_sweep("0:64:32"), (std::vector<uint64_t>{0, 32, 64}));
  EXPECT_EQ(parse_padding_sweep("16:20:8"), (std::vector<uint64_t>{16}));
  EXPECT_THROW(parse_padding_sweep("0:64"), std::invalid_argument);
  EXPECT_THROW(parse_padding_sweep("0:64:0"), std::invalid_argument);
  EXPECT_THROW(parse_padding_sweep("64:0:8"), std::invalid_argument);
  EXPECT_THROW(parse_padding_sweep("a:64:8"), std::invalid_argument);
  EXPECT_THROW(parse_padding_sweep("0:100000:1"), std::invalid_argument);
}

TEST(ValidateSweep, ContiguousCorruptingPaddingsBecomeOneDRange) {
  std::vector<SweepPoint> points{{0, one_site(Outcome::Crashed, 2096)},
                                 {64, one_site(Outcome::Corrupted, 2208)},
                                 {128, one_site(Outcome::Survived, 2272)},
                                 {192, one_site(Outcome::Crashed, 2336)}};
  auto ranges = corrupt_ranges(points);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].routine, "_Ux86_64_setcontext");
  EXPECT_EQ(ranges[0].offset, 0x52u);
  EXPECT_EQ(ranges[0].padding_min, 0u);
  EXPECT_EQ(ranges[0].padding_max, 64u);
  EXPECT_EQ(ranges[0].d_min, 2096u);
  EXPECT_EQ(ranges[0].d_max, 2240u);
  EXPECT_TRUE(ranges[0].crashed);
  EXPECT_EQ(ranges[1].padding_min, 192u);

  auto text = render_sweep_text(points, {"unwindtrace-workload-gnu", ""});
  EXPECT_NE(text.find("_Ux86_64_setcontext +0x52 (return-address): D 2096-2240 B (padding 0-64), crashed"),
            std::string::npos)
      << text;
  auto json = sweep_to_json(points, {"unwindtrace-workload-gnu", ""});
  EXPECT_EQ(json["sweep"]["runs"].size(), 4u);
  EXPECT_EQ(json["sweep"]["corrupt_ranges"][0]["d_min"], 2096);
  EXPECT_TRUE(json["verdict"]["corrupted"].get<bool>());
}

TEST(ValidateSignals, NamesBothWays) {
  EXPECT_EQ(host::parse_signal("SIGPROF"), SIGPROF);
  EXPECT_EQ(host::parse_signal("prof"), SIGPROF);
  EXPECT_EQ(host::parse_signal("27"), 27);
  EXPECT_EQ(host::parse_signal("RTMIN+2"), SIGRTMIN + 2);
  EXPECT_EQ(host::parse_signal("SIGRTMIN"), SIGRTMIN);
  EXPECT_FALSE(host::parse_signal("NOPE"));
  EXPECT_FALSE(host::parse_signal("0"));
  EXPECT_EQ(host::signal_name(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(host::signal_name(SIGRTMIN + 1), "SIGRTMIN+1");
  EXPECT_TRUE(host::injectable_signal(SIGPROF));
  EXPECT_TRUE(host::injectable_signal(SIGRTMIN + 1));
  EXPECT_FALSE(host::injectable_signal(SIGSEGV)) << "a crash is recognised by it";
  EXPECT_FALSE(host::injectable_signal(SIGKILL));
  EXPECT_FALSE(host::injectable_signal(32)) << "glibc's";
}

TEST(ValidateVerdict, CorruptedNoWindowAndNothing) {
  EXPECT_TRUE(
      verdict_line(one_site(Outcome::Crashed)).starts_with("CORRUPTED: signals at 1 of 1 instruction(s)"));

  auto fixed = one_site(Outcome::Survived);
  fixed.sites[0].site.kind = SiteKind::AfterSwitch;
  EXPECT_TRUE(
      verdict_line(fixed).starts_with("no window: nothing reads the abandoned stack after the switch"))
      << verdict_line(fixed);
  EXPECT_TRUE(fixed.conclusive());
  EXPECT_FALSE(fixed.corrupted());

  EXPECT_TRUE(verdict_line(one_site(Outcome::Survived))
                  .starts_with("no corruption in 10 injection(s), but a window"));

  ValidateResult nothing;
  nothing.unwinder = "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1 (libgcc_s 12.2.0)";
  EXPECT_TRUE(verdict_line(nothing).starts_with("nothing to validate"));
  EXPECT_FALSE(nothing.conclusive());

  auto unreached = one_site(Outcome::NotReached);
  EXPECT_FALSE(unreached.conclusive());
  EXPECT_TRUE(verdict_line(unreached).starts_with("inconclusive"));
}

TEST(ValidateJson, CarriesTheDocumentedFields) {
  auto r = one_site(Outcome::Crashed);
  Crash crash;
  crash.sig = SIGSEGV;
  crash.ip = 0;
  r.sites[0].crash = crash;
  auto json = to_json(r, {"unwindtrace-workload-gnu, padding 0 B", "/tmp/libunwind.so.8"});
  EXPECT_EQ(json["schema"], kValidateSchema);
  EXPECT_EQ(json["target"]["lib"], "/tmp/libunwind.so.8");
  EXPECT_EQ(json["signal"], "SIGPROF");
  EXPECT_EQ(json["frame_bytes"]["min"], 2896);
  EXPECT_TRUE(json["routines"][0]["reached"].get<bool>());
  const auto& site = json["sites"][0];
  EXPECT_EQ(site["offset"], "+0x52");
  EXPECT_EQ(site["inject_at"], "+0x4b");
  EXPECT_EQ(site["outcome"], "crashed");
  EXPECT_EQ(site["injections"]["landed"], 10);
  EXPECT_DOUBLE_EQ(site["injections"]["landing_ratio"].get<double>(), 1.0);
  EXPECT_EQ(site["crash"]["signal"], "SIGSEGV");
  EXPECT_EQ(site["crash"]["ip"], "0x0");
  EXPECT_EQ(site["distance"]["min"], 2096);
  EXPECT_TRUE(json["verdict"]["corrupted"].get<bool>());
}

}  // namespace
}  // namespace ut::validate

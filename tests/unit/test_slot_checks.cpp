// Slot checks: a hit's slot read again at the handler's return counts as overwritten only when
// its value changed, and return-address slots are counted apart.
#include <gtest/gtest.h>

#include "model/slot_checks.h"

namespace ut::model {
namespace {

ut_slot_check_event check(uint64_t before, uint64_t after, uint8_t cls, uint32_t unreadable = 0) {
  ut_slot_check_event e{};
  e.hit.before = before;
  e.hit.window_class = cls;
  e.after = after;
  e.unreadable = unreadable;
  return e;
}

TEST(SlotChecks, CountsChangedSlotsByClass) {
  SlotCheckCounts counts;
  add_slot_check(counts, check(0x4011a0, 0, UT_CLASS_RETURN_ADDRESS));
  add_slot_check(counts, check(0x4011a0, 0x4011a0, UT_CLASS_RETURN_ADDRESS));
  add_slot_check(counts, check(7, 9, UT_CLASS_REGISTER));
  add_slot_check(counts, check(7, 0, UT_CLASS_REGISTER, 1));
  EXPECT_EQ(counts.checked, 4u);
  EXPECT_EQ(counts.overwritten, 2u);
  EXPECT_EQ(counts.return_address, 1u);
  EXPECT_EQ(counts.unreadable, 1u);
}

}  // namespace
}  // namespace ut::model

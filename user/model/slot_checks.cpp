#include "model/slot_checks.h"

namespace ut::model {

void add_slot_check(SlotCheckCounts& counts, const ut_slot_check_event& event) {
  ++counts.checked;
  if (event.unreadable) {
    ++counts.unreadable;
    return;
  }
  if (event.after == event.hit.before) return;
  ++counts.overwritten;
  if (event.hit.window_class == UT_CLASS_RETURN_ADDRESS) ++counts.return_address;
}

}  // namespace ut::model

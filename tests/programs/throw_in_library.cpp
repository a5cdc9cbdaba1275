// A C++ library linked with GNU libunwind first in DT_NEEDED: what a C host dlopen()s.
extern "C" int ut_throw_and_catch() {
  try {
    throw 7;
  } catch (int value) {
    return value;
  }
}

// A library with nothing of its own but a DT_NEEDED on GNU libunwind: LD_PRELOAD it and
// libunwind joins the global lookup scope, after the program's own dependencies.
int ut_preload_unwind_marker(void) { return 1; }

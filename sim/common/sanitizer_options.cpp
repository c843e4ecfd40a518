// Linked into the executables of sanitized builds only (DFSIM_SANITIZE or DFSIM_FUZZ): the
// sanitizer options they run with, however they are started (ctest, scripts/test.sh, by hand, or
// as the workers and children dfsim and its tests spawn). ASAN_OPTIONS / UBSAN_OPTIONS /
// LSAN_OPTIONS in the environment still override them.
extern "C" {

// Any report ends the process with a non-zero code, which fails its test. ASan's fake stacks
// (use-after-return) do not survive SystemC's hand-made stack switches, which hand ASan no fake
// stack (models/common/systemc_asan_fibers.cpp). Leaks are checked at exit.
const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0";
}

const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}

}  // extern "C"

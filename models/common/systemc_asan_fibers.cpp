// Linked into the executables of sanitized builds only (DFSIM_SANITIZE or DFSIM_FUZZ): completes
// the AddressSanitizer fiber annotations of Debian's SystemC 2.3.4, so ASan knows which stack a
// SystemC thread runs on (google/sanitizers#189).
//
// SystemC switches its threads' stacks with QuickThreads and tells ASan through weak references
// to __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, but 2.3.4 does it only
// halfway (seen in its disassembly): a switch to the main coroutine announces the stack
// [nullptr, 0), since SystemC never learns the main stack's bounds, and sc_cor_pkg_qt::abort (a
// thread that ends hands over to the next) announces nothing. ASan then believes the main stack
// is empty, or still that of a finished thread, and every exception thrown after a simulation
// (__cxa_throw unpoisons the stack below it) prints "ASan is ignoring requested
// __asan_handle_no_return" on stderr and reports a false stack-buffer-overflow in its own
// sigaltstack call. Let past that, the stale poison left by the unwound frames made the next
// stack write fail too: a 144-byte lstat() in LeakSanitizer's symbolizer, whose report then
// waited forever for the symbolizer's own lock. Later SystemC releases record the old stack's
// bounds as this file does.
//
// The executable's definitions come before libasan's in symbol lookup, so libsystemc's calls land
// here: a switch to [nullptr, 0) becomes a switch to the main stack (learnt from the first switch
// away from it), and qt_abort (QuickThreads' switch without return, which libsystemc calls through
// its PLT) is announced to ASan like a yield. What ASan itself does is unchanged.
//
// LeakSanitizer scans the stacks of OS threads but not SystemC's, which are mmap()ed: an object
// that only a suspended SystemC thread holds would be reported as a leak at exit. Normally every
// thread has ended by then, but a run stopped early (a time past the clock's range) leaves them
// suspended. So each thread stack is a root region while its thread lives, as OS stacks are.
#include <dlfcn.h>
#include <sanitizer/lsan_interface.h>

#include <cstddef>
#include <cstdint>
#include <map>

namespace {

using StartSwitch = void (*)(void**, const void*, std::size_t);
using FinishSwitch = void (*)(void*, const void**, std::size_t*);
using Helper = void* (*)(void*, void*, void*);
using Block = void* (*)(Helper, void*, void*, void*);

template <class Function>
Function next_definition(const char* name) {
  return reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
}

struct Stack {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

Stack main_stack;

// Every thread stack SystemC switched to, by its lowest address: a qt_abort knows only the stack
// pointer it goes to.
std::map<std::uintptr_t, std::size_t>& thread_stacks() {
  static std::map<std::uintptr_t, std::size_t> stacks;
  return stacks;
}

Stack thread_stack_holding(const void* sp) {
  const auto address = reinterpret_cast<std::uintptr_t>(sp);
  auto& stacks = thread_stacks();
  auto above = stacks.upper_bound(address);
  if (above == stacks.begin()) return {};
  --above;
  if (address - above->first >= above->second) return {};
  return {reinterpret_cast<const void*>(above->first), above->second};
}

// SystemC passes no fake stack (detect_stack_use_after_return stays off: ASan's fake stacks do not
// survive hand-made stack switches).
__attribute__((no_sanitize_address)) void start_switch(Stack to) {
  static const StartSwitch asan = next_definition<StartSwitch>("__sanitizer_start_switch_fiber");
  if (to.bottom == nullptr && to.size == 0) to = main_stack;
  asan(nullptr, to.bottom, to.size);
}

__attribute__((no_sanitize_address)) void finish_switch(const void** old_bottom,
                                                        std::size_t* old_size) {
  static const FinishSwitch asan = next_definition<FinishSwitch>("__sanitizer_finish_switch_fiber");
  Stack old;
  asan(nullptr, &old.bottom, &old.size);
  // The first switch of a process leaves the main stack: ASan knows its bounds from the start.
  if (main_stack.bottom == nullptr) main_stack = old;
  if (old_bottom != nullptr) *old_bottom = old.bottom;
  if (old_size != nullptr) *old_size = old.size;
}

struct AbortHelper {
  Helper helper;
  void* a;
  void* b;
};

// Runs on the new stack first thing after the switch, as QuickThreads' helpers do.
__attribute__((no_sanitize_address)) void* finish_abort(void* old_sp, void* helper, void*) {
  // SystemC aborts only a thread that has ended: its stack holds nothing live any more.
  const void* ended_bottom = nullptr;
  std::size_t ended_size = 0;
  finish_switch(&ended_bottom, &ended_size);
  const auto ended = thread_stacks().find(reinterpret_cast<std::uintptr_t>(ended_bottom));
  if (ended != thread_stacks().end() && ended->second == ended_size) {
    __lsan_unregister_root_region(ended_bottom, ended_size);
    thread_stacks().erase(ended);
  }
  const AbortHelper& original = *static_cast<AbortHelper*>(helper);
  return original.helper(old_sp, original.a, original.b);
}

}  // namespace

extern "C" {

__attribute__((no_sanitize_address)) void __sanitizer_start_switch_fiber(void**, const void* bottom,
                                                                         std::size_t size) {
  if (bottom != nullptr &&
      thread_stacks().emplace(reinterpret_cast<std::uintptr_t>(bottom), size).second) {
    __lsan_register_root_region(bottom, size);
  }
  start_switch({bottom, size});
}

__attribute__((no_sanitize_address)) void __sanitizer_finish_switch_fiber(void*,
                                                                          const void** old_bottom,
                                                                          std::size_t* old_size) {
  finish_switch(old_bottom, old_size);
}

__attribute__((no_sanitize_address)) void* qt_abort(Helper helper, void* a, void* b, void* sp) {
  static const Block quickthreads = next_definition<Block>("qt_abort");
  // The finished thread's stack outlives the switch (SystemC frees it later), so the original
  // helper can wait there.
  AbortHelper original{helper, a, b};
  start_switch(thread_stack_holding(sp));
  return quickthreads(finish_abort, &original, nullptr, sp);
}

}  // extern "C"

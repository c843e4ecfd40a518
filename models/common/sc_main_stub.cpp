// libsystemc.so defines main() and calls sc_main(); dfsim's executables have their own main()
// and never call sc_main, but the shared library needs the symbol to link.
#include <cstdio>

extern "C" int sc_main(int, char**) {
  std::fputs("dfsim: sc_main is not an entry point\n", stderr);
  return 1;
}

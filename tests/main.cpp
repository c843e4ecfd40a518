// Catch2 entry point. ctest runs each TEST_CASE in its own process (catch_discover_tests), which
// SystemC needs: it allows one elaboration per process.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

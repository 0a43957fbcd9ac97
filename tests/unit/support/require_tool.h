// Unit tests that need a third-party tool (openssl, curl, gtlsserver) skip when it is
// missing, except under CI=true: scripts/install-deps.sh installs every such tool, so
// there a missing one is a broken install and the test fails. The integration tests'
// twin is require_tool() in tests/integration/shoal_harness.py.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace shoal::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string_view(ci) == "true" || std::string_view(ci) == "1");
}

// `name` is a command on PATH.
inline bool have_tool(const std::string& name) {
  return std::system(("command -v '" + name + "' >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace shoal::test

// In a TEST body or SetUp(): unless `tool` is on PATH, ends the test as skipped, or as
// failed under CI=true. `package` is the Debian package that installs it.
#define SHOAL_REQUIRE_TOOL(tool, package)                                                   \
  do {                                                                                      \
    if (!::shoal::test::have_tool(tool)) {                                                  \
      if (::shoal::test::in_ci()) {                                                         \
        GTEST_FAIL() << "CI=true and " << (tool) << " is missing (Debian package "          \
                     << (package) << "): scripts/install-deps.sh should have installed it"; \
      }                                                                                     \
      GTEST_SKIP() << (tool) << " not installed (Debian package " << (package) << ")";      \
    }                                                                                       \
  } while (0)

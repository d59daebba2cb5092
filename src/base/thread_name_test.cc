#include "base/thread_name.h"

#include <pthread.h>

#include <string>
#include <string_view>
#include <thread>

#include "gtest/gtest.h"

namespace facet {
namespace {

// The name a new thread has after naming itself `name`.
std::string NameAfterNaming(std::string_view name) {
  std::string seen;
  std::thread t([&] {
    NameThisThread(name);
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    seen = buf;
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, NamesTheCallingThread) { EXPECT_EQ(NameAfterNaming("facet-test"), "facet-test"); }

TEST(ThreadNameTest, CutsLongNamesToFifteenCharacters) {
  EXPECT_EQ(NameAfterNaming("facet-a-very-long-thread-name"), "facet-a-very-lo");
}

}  // namespace
}  // namespace facet

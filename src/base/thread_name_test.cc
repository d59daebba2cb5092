#include "base/thread_name.h"

#include <pthread.h>

#include <thread>

#include "gtest/gtest.h"

namespace facet {
namespace {

std::string NameOf(pthread_t t) {
  char buf[32] = {};
  pthread_getname_np(t, buf, sizeof buf);
  return buf;
}

TEST(ThreadNameTest, NamesTheCallingThread) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("facet-test");
    seen = NameOf(pthread_self());
  });
  t.join();
  EXPECT_EQ(seen, "facet-test");
}

TEST(ThreadNameTest, CutsLongNamesToFifteenCharacters) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("facet-a-very-long-thread-name");
    seen = NameOf(pthread_self());
  });
  t.join();
  EXPECT_EQ(seen, "facet-a-very-lo");
}

}  // namespace
}  // namespace facet

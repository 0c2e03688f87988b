// The support kit: the intrusive list, the scope guard, the poll timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "cosync/impl/intrusive_list.hpp"
#include "support/errors.hpp"
#include "support/scope_guard.hpp"
#include "support/timeout.hpp"

namespace {

using cosync::impl::IntrusiveList;

struct Node {
  int value = 0;
  Node* prev = nullptr;
  Node* next = nullptr;
};

std::vector<int> values(const IntrusiveList<Node>& list) {
  std::vector<int> out;
  list.for_each([&out](Node& node) { out.push_back(node.value); });
  return out;
}

// Numbers nodes[i] i and queues them in order.
template <std::size_t N>
void fill(IntrusiveList<Node>& list, Node (&nodes)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    nodes[i].value = static_cast<int>(i);
    list.push_back(nodes[i]);
  }
}

TEST(IntrusiveList, KeepsInsertionOrderAndRemovesFromAnywhere) {
  Node a{1}, b{2}, c{3}, d{0};
  IntrusiveList<Node> list;
  list.push_back(a);
  list.push_back(b);
  list.push_back(c);
  list.push_front(d);
  EXPECT_EQ(values(list), (std::vector<int>{0, 1, 2, 3}));
  list.remove(b);
  EXPECT_EQ(values(list), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(b.prev, nullptr);
  EXPECT_EQ(b.next, nullptr);
  EXPECT_EQ(list.pop_front(), &d);
  EXPECT_EQ(list.front(), &a);
  EXPECT_EQ(list.back(), &c);
  list.remove(c);
  list.remove(a);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.pop_front(), nullptr);
}

TEST(IntrusiveList, RotateToFrontMovesTheHeadBehindTheTail) {
  Node n[5];
  IntrusiveList<Node> list;
  fill(list, n);
  list.rotate_to_front(n[3]);
  EXPECT_EQ(values(list), (std::vector<int>{3, 4, 0, 1, 2}));
  EXPECT_EQ(list.back(), &n[2]);
  list.rotate_to_front(n[3]);
  EXPECT_EQ(values(list), (std::vector<int>{3, 4, 0, 1, 2}));
  list.rotate_to_front(n[2]);
  EXPECT_EQ(values(list), (std::vector<int>{2, 3, 4, 0, 1}));
}

TEST(IntrusiveList, ForEachMayRemoveTheElementItIsGiven) {
  Node n[4];
  IntrusiveList<Node> list;
  fill(list, n);
  list.for_each([&list](Node& node) {
    if (node.value % 2 == 0) list.remove(node);
  });
  EXPECT_EQ(values(list), (std::vector<int>{1, 3}));
}

TEST(ScopeExit, RunsOnReturnAndOnExceptionButNotWhenDismissed) {
  int runs = 0;
  {
    cosync::support::ScopeExit guard([&runs] { ++runs; });
  }
  EXPECT_EQ(runs, 1);
  try {
    cosync::support::ScopeExit guard([&runs] { ++runs; });
    throw std::runtime_error("unwind");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(runs, 2);
  {
    cosync::support::ScopeExit guard([&runs] { ++runs; });
    guard.dismiss();
  }
  EXPECT_EQ(runs, 2);
}

TEST(PollTimeout, RoundsUpAndClampsToTheCap) {
  using cosync::support::poll_timeout;
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  EXPECT_EQ(poll_timeout<milliseconds>(nanoseconds(1)), 1);
  EXPECT_EQ(poll_timeout<milliseconds>(microseconds(1500)), 2);
  EXPECT_EQ(poll_timeout<milliseconds>(nanoseconds(-5)), 0);
  EXPECT_EQ(poll_timeout<microseconds>(std::chrono::hours(1000)), 24LL * 3600 * 1000 * 1000);
}

TEST(ThrowErrno, NamesTheThingAndCarriesTheErrno) {
  try {
    cosync::support::throw_errno(EBADF, "cannot wait on fd 7");
    FAIL() << "throw_errno returned";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
    EXPECT_NE(std::string(e.what()).find("cosync: cannot wait on fd 7"), std::string::npos);
  }
}

}  // namespace

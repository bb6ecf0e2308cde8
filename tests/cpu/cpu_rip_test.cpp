// The symbolic RIP of ordinary code: it moves on with time, and a kernel RIP
// stays in the kernel text (0xffffffff81000000 up to 0xffffffffc0000000).
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

constexpr std::uint64_t kTextEnd = 0xFFFFFFFFC0000000ull;
constexpr std::uint64_t kTextSize = kTextEnd - kIdleRip;  // 1008 MiB

TEST(KernelRip, MovesOneByteACycleInsideTheText) {
  Harness h;
  h.program_linux_fred();
  h.run_to(1'000'000);
  EXPECT_EQ(h.cpu->rip(), kIdleRip + 1'000'000);
}

// The stretch that began at the text's first byte (cycle 0), around its end.
TEST(KernelRip, WrapsAtTheEndOfTheText) {
  Harness h;
  h.program_linux_fred();
  h.run_to(kTextSize - 1);
  EXPECT_EQ(h.cpu->rip(), kTextEnd - 1) << "the text's last byte";
  h.run_to(kTextSize);
  // A whole text size: not the RIP the stretch began at, one byte further.
  EXPECT_EQ(h.cpu->rip(), kIdleRip + 1);
  h.run_to(kTextSize + 2);
  EXPECT_EQ(h.cpu->rip(), kIdleRip + 2);
}

TEST(KernelRip, StaysInTheKernelTextPastTwoToThe32Cycles) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  const Cycle at = 5'000'000'000;  // > 2^32, more than four times the text
  h.run_to(at);
  // By hand: 5e9 - 4 * 1008 MiB = 772,141,568 bytes into the text.
  const std::uint64_t expected = kIdleRip + 772'141'568;
  EXPECT_EQ(h.cpu->rip(), expected);
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const std::uint64_t rip = h.os.seen[0].d.frame.rip;
  EXPECT_EQ(rip, expected);
  EXPECT_GE(rip, kIdleRip);
  EXPECT_LT(rip, kTextEnd);
}

TEST(KernelRip, AWholeMultipleOfTheTextIsNotTheSameRip) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  h.run_to(1000);
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  ASSERT_FALSE(h.os.resumes.empty());
  const Cycle resumed = h.os.resumes.back().first;
  const std::uint64_t first = h.os.seen[0].d.frame.rip;
  // Exactly one text size of running later: a plain modulo would land on the
  // first NMI's RIP and make the second look back-to-back.
  h.run_to(resumed + kTextSize);
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_NE(h.os.seen[1].d.frame.rip, first);
  EXPECT_EQ(h.os.seen[1].d.frame.rip, first + 1);
}

TEST(KernelRip, AnNmiAtTheReturnSeesTheSameRip) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  h.run_to(3'000'000'000);
  h.cpu->raise_nmi(0);
  h.run_idle();
  const Cycle resumed = h.os.resumes.back().first;
  h.run_to(resumed);  // no cycle of running: the RIP has not moved
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.frame.rip, h.os.seen[0].d.frame.rip);
}

}  // namespace
}  // namespace fredsim::cpu

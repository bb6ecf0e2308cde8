// nmi_handle and default_do_nmi: docs/linux.md "nmi_handle"
// and "default_do_nmi(regs)".
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

struct Four {
  HandlerId perf, bt, ghes, dev;
};

Four register_four(Kernel& k) {
  Four f;
  f.perf = *k.register_model(NmiType::local, HandlerModel::pmi, 0, "perf", nmis::VECTOR_PMI);
  f.bt = *k.register_model(NmiType::local, HandlerModel::backtrace, 0, "bt", nmis::VECTOR_BT);
  f.ghes = *k.register_model(NmiType::local, HandlerModel::ghes, 0, "ghes", 0);
  f.dev = *k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
  return f;
}

std::vector<CpuId> all_cpus(system::System& s) {
  std::vector<CpuId> v(s.machine().cpu_count());
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Dispatch, BitmapCallsOnlyHandlersWhoseSourceBitIsSet) {
  auto sys = make_system(make_config(8));
  Kernel& k = sys->kernel();
  Four f = register_four(k);
  auto cpus = all_cpus(*sys);
  sys->at(1000, [&] { k.trigger_backtrace(0, cpus, true); });
  sys->run_to_idle();
  EXPECT_EQ(k.registry().handler(f.bt).total.calls, 7u);
  EXPECT_EQ(k.registry().handler(f.bt).total.handled, 7u);
  EXPECT_EQ(k.registry().handler(f.perf).total.calls, 0u);
  EXPECT_EQ(k.registry().handler(f.ghes).total.calls, 0u) << "vector-0 handlers expect bit 0";
  EXPECT_EQ(k.registry().handler(f.dev).total.calls, 0u);
  for (CpuId c = 1; c < 8; ++c) {
    EXPECT_EQ(k.cpu_state(c).stats.normal, 1u) << "cpu " << c;
    EXPECT_EQ(k.cpu_state(c).stats.unknown, 0u);
    EXPECT_EQ(k.lost_work(c), 0u);
  }
  EXPECT_EQ(k.cpu_state(0).stats.normal, 0u) << "the sender excluded itself";
}

TEST(Dispatch, WithoutNmiSourceEveryHandlerIsPolled) {
  for (bool fred : {true, false}) {
    auto sys = make_system(make_config(8, fred, false));
    Kernel& k = sys->kernel();
    Four f = register_four(k);
    auto cpus = all_cpus(*sys);
    sys->at(1000, [&] { k.trigger_backtrace(0, cpus, true); });
    sys->run_to_idle();
    EXPECT_EQ(k.registry().handler(f.bt).total.handled, 7u);
    for (HandlerId h : {f.perf, f.bt, f.ghes, f.dev}) {
      EXPECT_EQ(k.registry().handler(h).total.calls, 7u)
          << k.registry().handler(h).name << " fred=" << fred;
    }
  }
}

TEST(Dispatch, EachHandlerStartsWhereThePreviousEnded) {
  auto sys = make_system(make_config(2, true, false));
  Kernel& k = sys->kernel();
  std::vector<Cycle> seen;
  auto probe = [&seen](Cycle cost) {
    return [&seen, cost](NmiType, const PtRegs&, NmiContext& ctx) {
      seen.push_back(ctx.now());
      ctx.charge(cost);
      return NMI_DONE;
    };
  };
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, probe(1000), 0, "a", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, probe(10), 0, "b", 0).ok());
  const CpuId dest[] = {1};
  sys->at(0, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->run_to_idle();
  ASSERT_EQ(seen.size(), 2u);
  const Cycle call = sys->machine().timing()[TimingParam::handler_call];
  EXPECT_EQ(seen[1] - seen[0], 1000 + call);
}

TEST(Dispatch, BackToBackSwallowInBothModes) {
  for (bool source : {true, false}) {
    auto sys = make_system(make_config(2, true, source));
    Kernel& k = sys->kernel();
    HandlerId dev = *k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
    const CpuId dest[] = {1};
    // Two work items behind one NMI, and a second NMI that arrives while the
    // first is being handled: it is pending at the ERETS and taken at once.
    sys->at(100, [&] {
      k.registry().add_work(dev, 1, 2);
      k.send_nmi_ipi(0, dest, 5);
    });
    sys->at(101, [&] { k.send_nmi_ipi(0, dest, 5); });
    sys->run_to_idle();
    const auto& st = k.cpu_state(1).stats;
    EXPECT_EQ(st.normal, 2u) << "source=" << source;
    EXPECT_EQ(st.swallow, 1u) << "source=" << source;
    EXPECT_EQ(st.unknown, 0u) << "source=" << source;
    EXPECT_EQ(sys->machine().cpu(1).stats().nmi_delivered, 2u);
  }
}

TEST(Dispatch, ExternalOnlyNmiCallsNoLocalHandler) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  Four f = register_four(k);
  sys->at(10, [&] { k.external_nmi(0, machine::NmiReason::serr); });
  sys->at(100000, [&] { k.external_nmi(0, machine::NmiReason::none); });
  sys->run_to_idle();
  for (HandlerId h : {f.perf, f.bt, f.ghes, f.dev})
    EXPECT_EQ(k.registry().handler(h).total.calls, 0u);
  EXPECT_EQ(k.cpu_state(0).stats.external, 1u);
  EXPECT_EQ(k.cpu_state(0).stats.unknown, 1u);
  EXPECT_TRUE(console_has(k, "NMI: PCI system error (SERR) for reason 80 on CPU 0."));
  // pci_serr_error left the SERR line disabled (bit 2 of port 0x61), and the
  // reason Linux prints is the whole byte read from the port.
  EXPECT_TRUE(console_has(k, "Uhhuh. NMI received for unknown reason 04 on CPU 0."));
  EXPECT_TRUE(console_has(k, "NMI-source bitmap is 0x4"));
  EXPECT_EQ(sys->machine().nmi_reason(), 0) << "the SERR path clears the reason";
  EXPECT_EQ(k.lost_work(0), 0u);
}

TEST(Dispatch, Lint1IsMaskedOnApplicationProcessors) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  sys->at(10, [&] { k.external_nmi(1, machine::NmiReason::none); });
  sys->run_to_idle();
  EXPECT_EQ(sys->machine().cpu(1).stats().nmi_received, 0u) << "setup_local_APIC masks LINT1";
}

TEST(Dispatch, UnknownNmiPanicsWhenAsked) {
  auto cfg = make_config(2);
  cfg.kernel.unknown_nmi_panic = true;
  auto sys = make_system(cfg);
  Kernel& k = sys->kernel();
  const CpuId dest[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->at(1'000'000, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->run_to_idle();
  ASSERT_TRUE(k.panicked());
  EXPECT_EQ(k.console().panic()->cpu, 1u);
  EXPECT_TRUE(console_has(k, "Kernel panic - not syncing: NMI: Not continuing"));
  // unknown_nmi_error: nmi_panic does not return, so "Dazed" never prints.
  EXPECT_FALSE(console_has(k, "Dazed and confused, but trying to continue"));
  EXPECT_EQ(sys->machine().cpu(1).stats().nmi_received, 1u) << "the machine stopped";
}

TEST(Dispatch, DurationCheckReportsSlowHandlers) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  // 5,000,000 cycles at 2,500 MHz: 2 ms, over the 1 ms default.
  HandlerId dev =
      *k.register_model(NmiType::local, HandlerModel::device, 0, "slow", 5, 100, 5'000'000);
  const CpuId dest[] = {1};
  sys->at(10, [&] {
    k.registry().add_work(dev, 1);
    k.send_nmi_ipi(0, dest, 5);
  });
  sys->run_to_idle();
  EXPECT_TRUE(console_has(k, "INFO: NMI handler (slow) took too long to run: 2.0"));
}

// nmi_check_duration (arch/x86/kernel/nmi.c) returns early when
// `duration < nmi_longest_ns || duration < a->max_duration`: a second call as
// long as the first one reports again.
TEST(Dispatch, DurationCheckReportsACallAsLongAsTheMaximumAgain) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  HandlerId dev =
      *k.register_model(NmiType::local, HandlerModel::device, 0, "slow", 5, 100, 5'000'000);
  const CpuId dest[] = {1};
  sys->at(10, [&] {
    k.registry().add_work(dev, 1);
    k.send_nmi_ipi(0, dest, 5);
  });
  sys->at(20'000'000, [&] {
    k.registry().add_work(dev, 1);
    k.send_nmi_ipi(0, dest, 5);
  });
  sys->run_to_idle();
  auto count = [&](const std::string& name) {
    int n = 0;
    for (const auto& l : k.console().lines())
      n += l.text.find("INFO: NMI handler (" + name + ") took too long") != std::string::npos;
    return n;
  };
  ASSERT_EQ(k.registry().handler(dev).total.calls, 2u);
  EXPECT_EQ(count("slow"), 2) << "the second call equals the maximum: nmi_check_duration prints";
}

// The threshold exactly: nmi_check_duration compares the call's nanoseconds
// (cycles * 1000 / MHz, rounded down) with nmi_longest_ns, so a threshold equal
// to them reports and one more does not, also when the call is a whole number
// of nanoseconds.
TEST(Dispatch, DurationCheckReportsACallOfExactlyTheThreshold) {
  struct Ran {
    bool reported;
    std::uint64_t cycles;
    std::uint64_t mhz;
  };
  auto run = [](std::uint64_t longest_ns, std::uint32_t handle_cycles) {
    auto c = make_config(2);
    c.kernel.nmi_longest_ns = longest_ns;
    auto sys = make_system(c);
    Kernel& k = sys->kernel();
    HandlerId dev =
        *k.register_model(NmiType::local, HandlerModel::device, 0, "slow", 5, 100, handle_cycles);
    const CpuId dest[] = {1};
    sys->at(10, [&] {
      k.registry().add_work(dev, 1);
      k.send_nmi_ipi(0, dest, 5);
    });
    sys->run_to_idle();
    return Ran{console_has(k, "INFO: NMI handler (slow) took too long"),
               k.registry().handler(dev).total.cycles,
               sys->machine().timing().get(fredsim::TimingParam::core_mhz)};
  };
  // A call that is not a whole number of ns, then one that is (the handling
  // cycles moved on until cycles * 1000 is a multiple of the clock).
  const Ran first = run(~std::uint64_t{0}, 1'234'567);
  ASSERT_FALSE(first.reported) << "no call is that long";
  std::uint32_t whole = 1'234'567;
  while ((first.cycles + (whole - 1'234'567)) * 1000 % first.mhz != 0)
    ++whole;
  for (const std::uint32_t handle : {std::uint32_t{1'234'567}, whole}) {
    const Ran r = run(~std::uint64_t{0}, handle);
    const std::uint64_t ns = r.cycles * 1000 / r.mhz;
    ASSERT_GT(ns, 1000u);
    EXPECT_TRUE(run(ns, handle).reported) << ns << " ns: as long as the threshold reports";
    EXPECT_FALSE(run(ns + 1, handle).reported) << "one ns short of the threshold";
    EXPECT_TRUE(run(ns - 1, handle).reported);
    if (handle == whole) {
      EXPECT_EQ(r.cycles * 1000 % r.mhz, 0u) << "a whole number of ns";
    }
  }
}

TEST(Dispatch, UserModeNmiReturnsWithEretu) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  HandlerId dev = *k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
  MemoryTraceSink trace;
  sys->machine().tracer().add_sink(trace);
  const CpuId dest[] = {1};
  sys->at(0, [&] { sys->machine().cpu(1).set_user_mode(true); });
  sys->at(10, [&] {
    k.registry().add_work(dev, 1);
    k.send_nmi_ipi(0, dest, 5);
  });
  sys->run_to_idle();
  EXPECT_EQ(k.registry().handler(dev).total.handled, 1u);
  EXPECT_EQ(sys->machine().cpu(1).cpl(), 3u);
  bool eretu = false;
  for (const auto& l : trace.lines())
    eretu = eretu || l.find("nmi_return via=eretu") != std::string::npos;
  EXPECT_TRUE(eretu);
}

TEST(Dispatch, EmergencyHandlerShortCircuitsTheList) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  Four f = register_four(k);
  int emergency_calls = 0;
  k.registry().set_emergency_handler(NmiType::local, [&](NmiType, const PtRegs&, NmiContext&) {
    ++emergency_calls;
    return NMI_HANDLED;
  });
  const CpuId dest[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->run_to_idle();
  EXPECT_EQ(emergency_calls, 1);
  EXPECT_EQ(k.registry().handler(f.ghes).total.calls, 0u);
  EXPECT_EQ(k.cpu_state(1).stats.normal, 1u);
}

// Found by fuzz/run_fuzz: the walk indexed the live list, so a handler
// (un)registered during a walk on another CPU (the selftest does both) shifted
// it: a removal skipped the next handler (its work was lost), a FIRST insertion
// called one twice. The walk now takes the list as it was when it began.
TEST(Dispatch, RegistrationDuringAWalkNeitherSkipsNorRepeats) {
  for (bool remove : {true, false}) {
    SCOPED_TRACE(remove ? "unregister" : "register FIRST");
    auto sys = make_system(make_config(2, true, false));
    Kernel& k = sys->kernel();
    auto cheap = [](NmiType, const PtRegs&, NmiContext& ctx) {
      ctx.charge(100);
      return NMI_DONE;
    };
    ASSERT_TRUE(k.register_nmi_handler(NmiType::local, cheap, NMI_FLAG_FIRST, "head").ok());
    auto a = k.register_nmi_handler(
        NmiType::local,
        [&k, remove, cheap](NmiType, const PtRegs&, NmiContext& ctx) {
          if (remove) {
            k.unregister_nmi_handler(NmiType::local, "head");
          } else if (k.registry().find_handler("new") == kNoHandler) {
            (void)k.register_nmi_handler(NmiType::local, cheap, NMI_FLAG_FIRST, "new");
          }
          ctx.charge(100);
          return NMI_DONE;
        },
        0, "a");
    auto b = k.register_nmi_handler(NmiType::local, cheap, 0, "b");
    ASSERT_TRUE(a.ok() && b.ok());
    const CpuId one[] = {1};
    sys->at(10, [&] { k.send_nmi_ipi(0, one, 0); });
    sys->run_to_idle();
    EXPECT_EQ(k.registry().handler(*a).total.calls, 1u);
    EXPECT_EQ(k.registry().handler(*b).total.calls, 1u);
  }
}

// The source filter passes the handlers whose vector is not in the bitmap
// without looking at them (a table of positions by vector, built with the
// list), but a handler registered again during the walk may have a new vector:
// Linux's nmi_handle reads a->source_vector when it reaches the handler, so
// one moved onto the NMI's vector is called.
TEST(Dispatch, TheFilterSeesAVectorChangedDuringTheWalk) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  auto claim = [](NmiType, const PtRegs&, NmiContext& ctx) {
    ctx.charge(100);
    return NMI_HANDLED;
  };
  auto a = k.register_nmi_handler(
      NmiType::local,
      [&k, claim](NmiType, const PtRegs&, NmiContext& ctx) {
        // "b" moves from vector 2 to this NMI's vector 1.
        k.unregister_nmi_handler(NmiType::local, "b");
        (void)k.register_nmi_handler(NmiType::local, claim, 0, "b", 1);
        ctx.charge(100);
        return NMI_HANDLED;
      },
      0, "a", 1);
  auto b = k.register_nmi_handler(NmiType::local, claim, 0, "b", 2);
  auto c = k.register_nmi_handler(NmiType::local, claim, 0, "c", 3);
  auto d = k.register_nmi_handler(NmiType::local, claim, 0, "d", 1);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  const CpuId one[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, one, 1); });
  sys->run_to_idle();
  EXPECT_EQ(k.registry().handler(*a).total.calls, 1u);
  EXPECT_EQ(k.registry().handler(*b).total.calls, 1u) << "on vector 1 when the walk reached it";
  EXPECT_EQ(k.registry().handler(*c).total.calls, 0u);
  EXPECT_EQ(k.registry().handler(*d).total.calls, 1u);
}

// More than 64 handlers (no table of positions): the filter looks at each.
// (Vector 2 is NMI_VECTOR: the sender sends vector 0, which polls every
// handler; 3 to 5 here.)
TEST(Dispatch, TheFilterOfALongListCallsEveryHandlerOfTheVector) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  auto claim = [](NmiType, const PtRegs&, NmiContext& ctx) {
    ctx.charge(10);
    return NMI_HANDLED;
  };
  constexpr unsigned kN = 70;
  std::vector<HandlerId> ids;
  for (unsigned i = 0; i < kN; ++i) {
    auto h = k.register_nmi_handler(NmiType::local, claim, 0, "h" + std::to_string(i), 3 + i % 3);
    ASSERT_TRUE(h.ok());
    ids.push_back(*h);
  }
  const CpuId one[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, one, 4); });
  sys->run_to_idle();
  for (unsigned i = 0; i < kN; ++i) {
    EXPECT_EQ(k.registry().handler(ids[i]).total.calls, i % 3 == 1 ? 1u : 0u) << "h" << i;
  }
}

// Each walk is of its type's list as it is when the walk begins: the kernel
// keeps its copy of a list across NMIs only while no list has changed, and a
// LOCAL walk's copy is not an UNKNOWN walk's.
TEST(Dispatch, EachWalkIsOfItsListAsItIsWhenTheWalkBegins) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  std::vector<std::string> calls;
  auto record = [&calls](std::string name, int ret) {
    return [&calls, name, ret](NmiType, const PtRegs&, NmiContext& ctx) {
      calls.push_back(name);
      ctx.charge(10);
      return ret;
    };
  };
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, record("a", NMI_DONE), 0, "a").ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, record("b", NMI_DONE), 0, "b").ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, record("u", NMI_HANDLED), 0, "u").ok());
  const CpuId one[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, one, 0); });
  sys->at(100'000, [&] {
    // "a" moves behind "b".
    ASSERT_TRUE(k.unregister_nmi_handler(NmiType::local, "a"));
    ASSERT_TRUE(k.register_nmi_handler(NmiType::local, record("a", NMI_DONE), 0, "a").ok());
  });
  sys->at(200'000, [&] { k.send_nmi_ipi(0, one, 0); });
  sys->at(300'000, [&] {
    // The UNKNOWN list's handler replaced: its walk calls the new one.
    ASSERT_TRUE(k.unregister_nmi_handler(NmiType::unknown, "u"));
    ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, record("v", NMI_HANDLED), 0, "v").ok());
  });
  sys->at(400'000, [&] { k.send_nmi_ipi(0, one, 0); });
  sys->run_to_idle();
  const std::vector<std::string> expected = {"a", "b", "u", "b", "a", "u", "b", "a", "v"};
  EXPECT_EQ(calls, expected);
}

}  // namespace
}  // namespace fredsim::kernel

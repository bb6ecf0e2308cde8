// Counts never depend on costs unless they should: scaling every cost of the
// timing profile by one factor must leave handler calls, NMI outcomes and lost
// work unchanged in a scenario whose events are far apart (each one's NMIs are
// over long before the next event). A cost typo that changes semantics (a cost
// read as a count, a deadline compared with a cost) shows up here.
//
// The scenarios are generated from fixed seeds: host kinds (FRED with and
// without NMI-source, IDT; v5 and v7), LOCAL handlers of every model with work
// from IPIs and platform NMIs, PMIs, the kernel's senders, guest and user
// intervals, and a final stop_other_cpus.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::load_ok;

// Far apart: longer than anything one event starts, at the largest factor
// (io_check_error's 2-second wait is 19,999 x iochk_udelay; at 2 GHz and x5 that
// is about 2e10 cycles).
constexpr Cycle kSpacing = 40'000'000'000;

struct Generated {
  std::string text;
  std::uint32_t cpus = 0;
};

Generated generate(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  Generated g;
  g.cpus = 2 + pick(5);
  static constexpr const char* kHosts[][3] = {{"fred", "true", "v7"},
                                              {"fred", "true", "v5"},
                                              {"fred", "false", "v7"},
                                              {"idt", "false", "v7"}};
  const auto& host = kHosts[pick(4)];
  std::string s = fmt::format(
      "name = \"scaling-{}\"\n[system]\ncpus = {}\ndelivery = \"{}\"\nnmi_source = {}\nkernel = "
      "\"{}\"\n",
      seed, g.cpus, host[0], host[1], host[2]);
  // LOCAL handlers with source vectors: devices and GHES (which get work from
  // events), and the perf handler (the PMIs' work).
  static constexpr const char* kModels[] = {"device", "device", "ghes", "pmi"};
  const std::uint32_t handlers = 2 + pick(4);
  std::vector<std::string> workers;
  for (std::uint32_t h = 0; h < handlers; ++h) {
    const char* model = kModels[pick(4)];
    s += fmt::format("[[handler]]\nname = \"h{}\"\ntype = \"local\"\nvector = {}\nmodel = \"{}\"\n",
                     h, 1 + pick(15), model);
    if (std::string(model) != "pmi") workers.push_back(fmt::format("\"h{}\"", h));
  }
  if (workers.empty()) {
    s += "[[handler]]\nname = \"hd\"\ntype = \"local\"\nvector = 3\nmodel = \"device\"\n";
    workers.push_back("\"hd\"");
  }
  Cycle at = 1'000;
  std::vector<Cycle> busy_until(g.cpus, 0);  // guest and user intervals do not overlap
  auto work = [&] { return workers[pick(static_cast<std::uint32_t>(workers.size()))]; };
  const std::uint32_t events = 6 + pick(8);
  for (std::uint32_t e = 0; e < events; ++e, at += kSpacing) {
    const std::uint32_t from = pick(g.cpus), cpu = pick(g.cpus);
    switch (pick(9)) {
      case 0:
      case 1:
        s += fmt::format(
            "[[event]]\nat = {}\ntype = \"ipi\"\nfrom = {}\ndest = {}\nvector = {}\nwork = [{}]\n",
            at, from, cpu, pick(16), work());
        break;
      case 2:
        s += fmt::format(
            "[[event]]\nat = {}\ntype = \"ipi\"\nfrom = {}\ndest = \"all\"\nvector = "
            "{}\nwork = [{}, {}]\n",
            at, from, 1 + pick(15), work(), work());
        break;
      case 3:
        s += fmt::format("[[event]]\nat = {}\ntype = \"pmi\"\ncpu = {}\ncounters = {}\n", at, cpu,
                         1 + pick(4));
        break;
      case 4: {
        static constexpr const char* kReasons[] = {"", "reason = \"serr\"\n",
                                                   "reason = \"iochk\"\n"};
        s += fmt::format("[[event]]\nat = {}\ntype = \"external\"\ncpu = {}\n{}work = [{}]\n", at,
                         cpu, kReasons[pick(3)], work());
        break;
      }
      case 5: {
        static constexpr const char* kSenders[] = {"backtrace", "mce", "selftest", "kgdb"};
        s += fmt::format("[[event]]\nat = {}\ntype = \"{}\"\nfrom = {}\n", at, kSenders[pick(4)],
                         from);
        break;
      }
      case 6:
      case 7:
        // A guest or user interval on `cpu` over the next events: NMIs to a
        // guest are exits, to user code they come from CPL 3.
        if (busy_until[cpu] <= at) {
          const bool guest = pick(2) == 0;
          busy_until[cpu] = at + 3 * kSpacing;
          s += fmt::format("[[event]]\nat = {}\ntype = \"{}\"\ncpu = {}\nuntil = {}\n", at,
                           guest ? "guest" : "user", cpu, busy_until[cpu]);
          break;
        }
        [[fallthrough]];
      default:
        s += fmt::format(
            "[[event]]\nat = {}\ntype = \"ipi\"\nfrom = {}\ndest = \"all-but-self\"\n"
            "vector = {}\n",
            at, from, pick(16));
        break;
    }
  }
  s += fmt::format("[[event]]\nat = {}\ntype = \"stop\"\nfrom = {}\n", at, pick(g.cpus));
  g.text = std::move(s);
  return g;
}

/// Every cost of the default profile times `factor` (the clock is not a cost).
std::string scaled_timing(Cycle factor) {
  std::string s = "[timing]\n";
  for (const TimingParamInfo& p : timing_params()) {
    if (p.name == "core_mhz") continue;
    s += fmt::format("{} = {}\n", p.name, p.default_cycles * factor);
  }
  return s;
}

/// What must not move: per CPU every count but the cycles, per handler calls
/// and handled on each CPU, and whether the run panicked.
std::vector<std::string> counts(const ScenarioResult& r) {
  std::vector<std::string> out;
  for (const CpuResult& c : r.cpus) {
    for (const CpuCounter& k : cpu_counters()) {
      if (std::string_view(k.name).find("cycles") != std::string_view::npos) continue;
      out.push_back(fmt::format("cpu {} {} = {}", c.id, k.name, k.get(c)));
    }
  }
  for (const HandlerResult& h : r.handlers) {
    for (std::size_t cpu = 0; cpu < r.cpus.size(); ++cpu) {
      const HandlerCpuCounts n = h.on_cpu(static_cast<CpuId>(cpu));
      out.push_back(
          fmt::format("{} on cpu {}: calls {} handled {}", h.name, cpu, n.calls, n.handled));
    }
  }
  out.push_back(fmt::format("panic {}", r.panic.has_value()));
  return out;
}

ScenarioResult run_text(const std::string& text) {
  const ScenarioSpec spec = load_ok(text);
  RunOptions options;
  auto r = SystemRunner{}.run(spec, options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : ScenarioResult{};
}

TEST(CostScaling, CountsDoNotDependOnCostsWhenEventsAreFarApart) {
  for (std::uint32_t seed = 1; seed <= 24; ++seed) {
    const Generated g = generate(seed);
    const ScenarioResult base = run_text(g.text + scaled_timing(1));
    const std::vector<std::string> want = counts(base);
    std::uint64_t nmis = 0;
    for (const CpuResult& c : base.cpus)
      nmis += c.nmi_received;
    EXPECT_GT(nmis, 0u) << "seed " << seed << ": a scenario with no NMI tests nothing";
    for (Cycle factor : {2u, 3u, 5u}) {
      const ScenarioResult scaled = run_text(g.text + scaled_timing(factor));
      EXPECT_EQ(counts(scaled), want) << "seed " << seed << ", every cost x" << factor << ":\n"
                                      << g.text;
      EXPECT_GT(scaled.end_cycle, 0u);
    }
  }
}

// The property holds only because the events are far apart: the same NMIs
// packed close together coalesce differently once the costs grow, which shows
// that the comparison above can fail.
TEST(CostScaling, CloseEventsDoDependOnCosts) {
  const std::string text = std::string(test::kHead) +
                           "[[handler]]\nname = \"d\"\ntype = \"local\"\nvector = 3\nmodel = "
                           "\"device\"\n"
                           "[[event]]\nat = 1000\ntype = \"ipi\"\nfrom = 0\ndest = 1\nvector = "
                           "3\nwork = \"d\"\nevery = 3000\ncount = 40\n";
  EXPECT_NE(counts(run_text(text + scaled_timing(1))), counts(run_text(text + scaled_timing(5))));
}

}  // namespace
}  // namespace fredsim::scenario

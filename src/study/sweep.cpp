// The dispatch study (include/fredsim/study/sweep.hpp).
//
// Each cell is a generated scenario on two CPUs: CPU 0 takes the NMIs (the boot CPU,
// the only one whose LINT1 Linux programs for NMIs), CPU 1 sends the IPIs.
// NMIs are 200,000 cycles apart, far more than the longest dispatch, so each is
// dispatched on its own unless the mix means them to coalesce.
#include "fredsim/study/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

namespace fredsim::study {

// The scenario layer's names this file works with.
using scenario::check_override_syntax;
using scenario::CpuResult;
using scenario::HandlerResult;
using scenario::load_scenario_string;
using scenario::Override;
using scenario::RunOptions;
using scenario::ScenarioRunner;
namespace {

constexpr std::uint64_t kPeriod = 200'000;  // cycles between NMIs (or pairs)
// The `two` mix: the busy NMI's handler runs this long, and the pair is raised
// this long after the busy NMI is sent: after the longest polling walk (64
// handlers, about 30,000 cycles) and well inside the busy handler.
constexpr std::uint64_t kBusyHandle = 100'000;
constexpr std::uint64_t kPairOffset = 60'000;
constexpr unsigned kMaxHandlers = 256;

constexpr std::array<std::string_view, 4> kModeNames = {"idt", "fred", "fred-nmisrc-v7",
                                                        "fred-nmisrc-v5"};
constexpr std::array<std::string_view, 4> kMixNames = {"one", "two", "unsourced10", "external10"};
constexpr std::array<std::string_view, 3> kPlaceNames = {"bare", "guest", "vm"};

template <typename E, std::size_t N>
bool parse_name(const std::array<std::string_view, N>& names, std::string_view text, E& out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

std::string_view mix_title(SweepMix m) {
  switch (m) {
    case SweepMix::one:
      return "one source: every NMI a perf PMI";
    case SweepMix::two:
      return "two sources coalesced: a PMI and a device IPI in one delivery";
    case SweepMix::unsourced10:
      return "10% unsourced: 9 PMIs, then an NMI with bit 0 for GHES";
    case SweepMix::external10:
      return "10% external: 9 PMIs, then a LINT1 NMI with SERR";
  }
  return "";
}

std::string_view place_title(SweepPlace p) {
  switch (p) {
    case SweepPlace::bare:
      return "bare metal";
    case SweepPlace::guest:
      return "guest (NMI exiting)";
    case SweepPlace::vm:
      return "in a VM (the guest's own NMIs through KVM)";
  }
  return "";
}

// The system section of a mode: docs/hardware.md §1 "Enumeration and control", §2 "NMI-source
// reporting" (FRED, NMI-source enumeration) and docs/linux.md (the dispatch revision).
std::string system_toml(SweepMode m) {
  switch (m) {
    case SweepMode::idt:
      return "delivery = \"idt\"\nnmi_source = false\nkernel = \"v7\"\n";
    case SweepMode::fred:
      return "delivery = \"fred\"\nnmi_source = false\nkernel = \"v7\"\n";
    case SweepMode::fred_nmisrc_v7:
      return "delivery = \"fred\"\nnmi_source = true\nkernel = \"v7\"\n";
    case SweepMode::fred_nmisrc_v5:
      return "delivery = \"fred\"\nnmi_source = true\nkernel = \"v5\"\n";
  }
  return "";
}

// One periodic event: `body` is its keys besides at/every/count.
std::string periodic(std::uint64_t at, std::uint64_t every, std::uint64_t count,
                     std::string_view body) {
  return fmt::format("[[event]]\nat = {}\n{}every = {}\ncount = {}\n\n", at, body, every, count);
}

constexpr std::string_view kPmi = "type = \"pmi\"\ncpu = 0\ncounters = 1\n";

}  // namespace

std::string_view to_string(SweepMode m) {
  return kModeNames[static_cast<std::size_t>(m)];
}
std::string_view to_string(SweepMix m) {
  return kMixNames[static_cast<std::size_t>(m)];
}
std::string_view to_string(SweepPlace p) {
  return kPlaceNames[static_cast<std::size_t>(p)];
}
bool parse_sweep_mode(std::string_view text, SweepMode& out) {
  return parse_name(kModeNames, text, out);
}
bool parse_sweep_mix(std::string_view text, SweepMix& out) {
  return parse_name(kMixNames, text, out);
}
bool parse_sweep_place(std::string_view text, SweepPlace& out) {
  return parse_name(kPlaceNames, text, out);
}

// The Linux users of LOCAL NMIs first (docs/linux.md "Senders and their handlers"),
// with their models' costs: perf's two MSR accesses, GHES's firmware block read.
// Then device drivers with source vectors 8..15, the range beyond the vectors the
// series names; past 15 handlers several drivers share a vector.
std::vector<SweepHandler> sweep_roster(unsigned handlers) {
  static const SweepHandler kLinux[] = {
      {"perf", "pmi", 7, false},          {"ghes", "ghes", 0, false}, {"nic", "device", 8, false},
      {"arch_bt", "backtrace", 4, false}, {"mce", "mce", 6, false},   {"kgdb", "kgdb", 5, false},
      {"smp_stop", "stop", 3, true},
  };
  std::vector<SweepHandler> out;
  out.reserve(handlers);
  for (unsigned i = 0; i < handlers; ++i) {
    if (i < std::size(kLinux)) {
      out.push_back(kLinux[i]);
    } else {
      const unsigned vector = 8 + (i - std::size(kLinux) + 1) % 8;  // 9..15, 8, 9, ...
      out.push_back({fmt::format("dev{}", i), "device", vector, false});
    }
  }
  return out;
}

unsigned sweep_min_handlers(SweepMix mix) {
  switch (mix) {
    case SweepMix::one:
    case SweepMix::external10:
      return 1;  // perf
    case SweepMix::unsourced10:
      return 2;  // perf, ghes
    case SweepMix::two:
      return 3;  // perf, nic
  }
  return 1;
}

bool sweep_place_has_mix(SweepPlace place, SweepMix mix) {
  return place != SweepPlace::vm || mix == SweepMix::one || mix == SweepMix::unsourced10;
}

double SweepPoint::host_cycles_per_nmi() const {
  return nmis == 0 ? 0.0 : static_cast<double>(host_cycles) / static_cast<double>(nmis);
}
double SweepPoint::cycles_per_nmi() const {
  return nmis == 0 ? 0.0 : static_cast<double>(dispatch_cycles) / static_cast<double>(nmis);
}
double SweepPoint::calls_per_nmi() const {
  return nmis == 0 ? 0.0 : static_cast<double>(handler_calls) / static_cast<double>(nmis);
}

std::string sweep_case_id(const SweepCase& c, bool with_pairs) {
  return fmt::format("{}-{}-{}-{}{}", to_string(c.place), to_string(c.mix), to_string(c.mode),
                     c.handlers, c.mix == SweepMix::two && !with_pairs ? "-base" : "");
}

std::string sweep_scenario(const SweepCase& c, bool with_pairs) {
  const bool in_vm = c.place == SweepPlace::vm;
  std::string s = fmt::format(
      "# Generated by fredsim sweep: mode {}, mix {}, place {}, {} LOCAL handlers.\n"
      "name = \"sweep-{}\"\n"
      "description = \"{}; {}\"\n\n"
      "[system]\ncpus = 2\n{}\n"
      // The device drivers' vectors 8..15 are beyond the 8 the series names: the
      // kernel that gives them out names 16 (no registration warning).
      "[kernel]\nsource_vectors = 16\n\n",
      to_string(c.mode), to_string(c.mix), to_string(c.place), c.handlers,
      sweep_case_id(c, with_pairs), place_title(c.place), mix_title(c.mix),
      // In a VM the mode is the guest's; the host is a FRED kernel with
      // NMI-source, whose NMIs these are not.
      system_toml(in_vm ? SweepMode::fred_nmisrc_v7 : c.mode));
  if (in_vm) {
    // vCPU 0 on host CPU 0 takes the NMIs, vCPU 1 on host CPU 1 sends the IPIs.
    s += fmt::format("[[vm]]\nname = \"vm0\"\ncpus = [0, 1]\n{}\n", system_toml(c.mode));
  }
  // A handler's or an event's keys, addressed to the guest kernel in a VM.
  const std::string_view to = in_vm ? "vm = \"vm0\"\n" : "";
  auto ev = [&](std::string_view body) { return fmt::format("{}{}", to, body); };
  for (const SweepHandler& h : sweep_roster(c.handlers)) {
    s += fmt::format("[[handler]]\n{}name = \"{}\"\nvector = {}\nmodel = \"{}\"\n{}\n", to, h.name,
                     h.vector, h.model, h.first ? "first = true\n" : "");
  }

  std::uint64_t last = 0;  // the cycle of the last NMI sent
  switch (c.mix) {
    case SweepMix::one:
      s += periodic(kPeriod, kPeriod, c.nmis, ev(kPmi));
      last = kPeriod * c.nmis;
      break;
    case SweepMix::unsourced10:
    case SweepMix::external10: {
      // Groups of ten slots: nine PMIs, then the odd one.
      const std::uint64_t groups = c.nmis / 10;
      for (std::uint64_t slot = 1; slot <= 9; ++slot)
        s += periodic(kPeriod * slot, 10 * kPeriod, groups, ev(kPmi));
      if (c.mix == SweepMix::unsourced10) {
        // A plain NMI (ICR vector 0): it arrives with bit 0, as GHES's do.
        s += periodic(10 * kPeriod, 10 * kPeriod, groups,
                      ev("type = \"ipi\"\nfrom = 1\ndest = 0\nvector = 0\nwork = \"ghes\"\n"));
      } else {
        s += "[[handler]]\nname = \"ecc\"\ntype = \"serr\"\nmodel = \"device\"\n\n";
        s += periodic(10 * kPeriod, 10 * kPeriod, groups,
                      "type = \"external\"\ncpu = 0\nreason = \"serr\"\n");
      }
      last = 10 * kPeriod * groups;
      break;
    }
    case SweepMix::two: {
      // The busy NMI: a platform NMI with SERR set (LINT1, bit 2). No LOCAL handler
      // claims it, so the reason read sends it to the SERR list, whose one handler
      // holds the CPU for kBusyHandle cycles (docs/linux.md "default_do_nmi" 4; the
      // reason comes before the swallow test, which KVM's NMIs, all at one RIP,
      // would otherwise meet). The pair (a PMI and a device IPI) arrives meanwhile
      // and coalesces: one pending NMI, the bitmap ORs both sources (docs/hardware.md §2
      // "NMI-source reporting").
      const std::uint64_t pairs = c.nmis / 2;
      s += fmt::format(
          "[[handler]]\nname = \"busy\"\ntype = \"serr\"\nmodel = \"device\"\n"
          "handle_cycles = {}\n\n",
          kBusyHandle);
      s += periodic(kPeriod, kPeriod, pairs, "type = \"external\"\ncpu = 0\nreason = \"serr\"\n");
      if (with_pairs) {
        s += periodic(kPeriod + kPairOffset, kPeriod, pairs, kPmi);
        s += periodic(kPeriod + kPairOffset, kPeriod, pairs,
                      "type = \"ipi\"\nfrom = 1\ndest = 0\nvector = 8\nwork = \"nic\"\n");
      }
      last = kPeriod * pairs;
      break;
    }
  }
  if (c.place == SweepPlace::guest) {
    s += fmt::format("[[event]]\nat = 0\ntype = \"guest\"\ncpu = 0\nuntil = {}\n\n",
                     last + 2 * kPeriod);
  }
  return s;
}

Status check_sweep_options(const SweepOptions& o) {
  if (o.handlers.empty() || o.modes.empty() || o.mixes.empty() || o.places.empty()) {
    return Error{"error: sweep: every list (handlers, modes, mixes, places) needs an entry"};
  }
  for (unsigned h : o.handlers) {
    if (h < 1 || h > kMaxHandlers) {
      return Error{
          fmt::format("error: sweep: {} handlers: the count must be 1..{}", h, kMaxHandlers)};
    }
  }
  if (o.nmis < 10 || o.nmis % 10 != 0 || o.nmis > 10'000'000) {
    return Error{fmt::format(
        "error: sweep: --nmis {}: give a multiple of 10 from 10 to 10,000,000 (the mixes come "
        "in groups of ten NMIs)",
        o.nmis)};
  }
  // The sweep sets the system and writes the handlers and events itself.
  static constexpr std::string_view kAllowed[] = {"timing.",
                                                  "system.apic=", "system.timing=", "system.seed="};
  for (const Override& ov : o.overrides) {
    if (auto st = check_override_syntax(ov.text); !st) return st.error();
    bool ok = false;
    for (std::string_view prefix : kAllowed)
      ok = ok || ov.text.starts_with(prefix);
    if (!ok) {
      return Error{fmt::format(
          "error: sweep: --set {}: the sweep sets this itself; only timing.*, system.apic, "
          "system.timing and system.seed can be overridden",
          ov.text)};
    }
  }
  return {};
}

std::vector<SweepCase> sweep_cases(const SweepOptions& o) {
  std::vector<SweepCase> cases;
  for (SweepPlace place : o.places) {
    for (SweepMix mix : o.mixes) {
      for (SweepMode mode : o.modes) {
        for (unsigned handlers : o.handlers) {
          if (handlers >= sweep_min_handlers(mix) && sweep_place_has_mix(place, mix))
            cases.push_back(SweepCase{mode, mix, place, handlers, o.nmis});
        }
      }
    }
  }
  return cases;
}

namespace {

// Runs one scenario of a cell: the figures of CPU 0, with the calls and lost work
// of the whole run; the case is left for the caller.
Result<SweepPoint> run_one(const SweepCase& c, bool with_pairs, const SweepOptions& o,
                           const ScenarioRunner& runner) {
  auto spec =
      load_scenario_string(sweep_scenario(c, with_pairs),
                           fmt::format("<sweep {}>", sweep_case_id(c, with_pairs)), o.overrides);
  if (!spec) return spec.error();
  RunOptions ro;
  auto r = runner.run(*spec, ro);
  if (!r) return r.error();
  SweepPoint f;
  if (c.place == SweepPlace::vm) {
    // The guest's figures: vCPU 0's NMIs (KVM collapses none here: they are
    // far apart), the guest kernel's handlers, every vCPU's exits.
    const scenario::VmResult& vm = r->vms.at(0);
    const scenario::VcpuResult& v = vm.vcpus.at(0);
    f.nmis = v.nmi_delivered;
    f.deliveries = v.nmi_delivered;
    f.dispatch_cycles = v.dispatch_cycles;
    f.unknown = v.stats.unknown;
    for (const scenario::VcpuResult& each : vm.vcpus) {
      f.lost += each.lost;
      f.host_cycles += each.exit_cycles;
    }
    for (const HandlerResult& h : vm.handlers)
      f.handler_calls += h.calls;
    return f;
  }
  const CpuResult& cpu = r->cpus.at(0);
  f.nmis = cpu.nmi_received;
  f.deliveries = cpu.nmi_delivered;
  f.coalesced = cpu.nmi_coalesced;
  f.dispatch_cycles = cpu.dispatch_cycles;
  f.host_cycles = cpu.dispatch_cycles;
  f.unknown = cpu.stats.unknown;
  for (const CpuResult& each : r->cpus)
    f.lost += each.lost;
  for (const HandlerResult& h : r->handlers)
    f.handler_calls += h.calls;
  return f;
}

}  // namespace

namespace {

// One cell's point: its run, less the baseline for the `two` mix, checked.
Result<SweepPoint> run_cell(const SweepCase& c, const SweepOptions& o,
                            const ScenarioRunner& runner) {
  auto run = run_one(c, true, o, runner);
  if (!run) return run.error();
  SweepPoint p = *run;
  p.c = c;
  if (c.mix == SweepMix::two) {
    // What the pairs add to the run that has only the busy NMIs.
    auto base = run_one(c, false, o, runner);
    if (!base) return base.error();
    p.nmis -= base->nmis;
    p.deliveries -= base->deliveries;
    p.coalesced -= base->coalesced;
    p.dispatch_cycles -= base->dispatch_cycles;
    p.host_cycles -= base->host_cycles;
    p.handler_calls -= base->handler_calls;
    p.unknown -= base->unknown;
    p.lost -= std::min(p.lost, base->lost);
  }
  // The study's own check: every NMI it raised reached the CPU, and each
  // pair of the `two` mix became one delivery.
  const std::uint64_t pairs = c.mix == SweepMix::two ? o.nmis / 2 : 0;
  if (p.nmis != o.nmis || p.coalesced != pairs) {
    return Error{fmt::format(
        "error: sweep: {} with {} handlers: {} NMIs reached CPU 0 ({} coalesced), {} ({}) "
        "were meant to; the timing overrides may have moved the NMIs into one another",
        sweep_case_id(c), c.handlers, p.nmis, p.coalesced, o.nmis, pairs)};
  }
  return p;
}

}  // namespace

Result<std::vector<SweepPoint>> run_sweep(const SweepOptions& o, const ScenarioRunner& runner,
                                          const std::function<void(const SweepPoint&)>& progress) {
  if (auto st = check_sweep_options(o); !st) return st.error();
  std::vector<SweepPoint> points;
  for (const SweepCase& c : sweep_cases(o)) {
    auto p = run_cell(c, o, runner);
    if (!p) return p.error();
    points.push_back(*p);
    if (progress) progress(*p);
  }
  return points;
}

Result<std::vector<SweepPoint>> run_sweep_cells(const SweepOptions& o,
                                                std::span<const std::size_t> cells,
                                                const ScenarioRunner& runner, unsigned jobs) {
  if (auto st = check_sweep_options(o); !st) return st.error();
  const std::vector<SweepCase> all = sweep_cases(o);
  for (std::size_t i : cells) {
    if (i >= all.size()) {
      return Error{fmt::format("error: sweep: cell {} of a sweep of {} cells", i, all.size())};
    }
  }
  const std::size_t n = cells.size();
  std::vector<std::optional<Result<SweepPoint>>> runs(n);
  // Workers take the next index; the indices are taken in increasing order, so
  // when one fails and the others stop taking new ones, every cell before it has
  // run and the first error in order is the one a single thread would meet.
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (std::size_t k = next.fetch_add(1); k < n && !failed.load(); k = next.fetch_add(1)) {
      runs[k] = run_cell(all[cells[k]], o, runner);
      if (!*runs[k]) failed.store(true);
    }
  };
  const std::size_t threads_wanted = std::min<std::size_t>(std::max(jobs, 1u), n);
  if (threads_wanted <= 1) {
    work();
  } else {
    std::vector<std::thread> threads;
    threads.reserve(threads_wanted);
    try {
      for (std::size_t t = 0; t < threads_wanted; ++t)
        threads.emplace_back(work);
    } catch (const std::system_error&) {
      // No more threads to be had: the ones started (or this one) do the rest.
      if (threads.empty()) work();
    }
    for (auto& t : threads)
      t.join();
  }
  std::vector<SweepPoint> points;
  points.reserve(n);
  for (auto& r : runs) {
    if (!r) break;  // not run: a cell before it failed
    if (!*r) return r->error();
    points.push_back(**r);
  }
  return points;
}

std::vector<std::size_t> sweep_shard_cells(std::size_t total, SweepShard shard) {
  std::vector<std::size_t> out;
  if (shard.count == 0 || shard.index == 0 || shard.index > shard.count) return out;
  for (std::size_t i = shard.index - 1; i < total; i += shard.count)
    out.push_back(i);
  return out;
}

namespace {

nlohmann::ordered_json options_json(const SweepOptions& o) {
  using nlohmann::ordered_json;
  ordered_json opts;
  opts["handlers"] = o.handlers;
  auto names = [](const auto& list) {
    ordered_json a = ordered_json::array();
    for (auto v : list)
      a.push_back(std::string(to_string(v)));
    return a;
  };
  opts["modes"] = names(o.modes);
  opts["mixes"] = names(o.mixes);
  opts["places"] = names(o.places);
  opts["nmis"] = o.nmis;
  ordered_json sets = ordered_json::array();
  for (const Override& ov : o.overrides)
    sets.push_back(ov.text);
  opts["set"] = sets;
  return opts;
}

// The format tag of a shard file; a later format changes the number.
constexpr std::string_view kShardFormat = "fredsim-sweep-shard-2";

}  // namespace

std::string sweep_shard_json(const SweepOptions& o, SweepShard shard,
                             std::span<const std::size_t> cells,
                             const std::vector<SweepPoint>& points) {
  using nlohmann::ordered_json;
  ordered_json list = ordered_json::array();
  for (std::size_t k = 0; k < points.size() && k < cells.size(); ++k) {
    const SweepPoint& p = points[k];
    list.push_back(ordered_json{{"cell", cells[k]},
                                {"place", to_string(p.c.place)},
                                {"mix", to_string(p.c.mix)},
                                {"mode", to_string(p.c.mode)},
                                {"handlers", p.c.handlers},
                                {"nmis", p.nmis},
                                {"deliveries", p.deliveries},
                                {"coalesced", p.coalesced},
                                {"dispatch_cycles", p.dispatch_cycles},
                                {"handler_calls", p.handler_calls},
                                {"unknown", p.unknown},
                                {"lost", p.lost},
                                {"host_cycles", p.host_cycles}});
  }
  return ordered_json{{"format", kShardFormat},
                      {"options", options_json(o)},
                      {"shard", ordered_json{{"index", shard.index}, {"count", shard.count}}},
                      {"cells", sweep_cases(o).size()},
                      {"points", list}}
             .dump(2) +
         "\n";
}

Result<SweepShardFile> parse_sweep_shard(std::string_view text, std::string_view source) {
  using nlohmann::json;
  auto bad = [&](std::string_view what) {
    return Error{fmt::format("error: {}: not a sweep shard file: {}", source, what)};
  };
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return bad("not JSON");
  if (!j.is_object() || !j.contains("format") || j["format"] != kShardFormat) {
    return bad(
        fmt::format("no \"format\": \"{}\" (written by fredsim sweep --shard)", kShardFormat));
  }
  SweepShardFile f;
  f.source = std::string(source);
  try {
    const json& opts = j.at("options");
    f.options_json = opts.dump();
    f.options.handlers = opts.at("handlers").get<std::vector<unsigned>>();
    auto names = [&](const char* key, auto& list, auto parse) -> Status {
      list.clear();
      for (const auto& n : opts.at(key)) {
        typename std::decay_t<decltype(list)>::value_type v{};
        if (!parse(n.get<std::string>(), v)) {
          return bad(fmt::format("options.{}: unknown name {}", key, n.dump()));
        }
        list.push_back(v);
      }
      return {};
    };
    if (auto st = names("modes", f.options.modes, parse_sweep_mode); !st) return st.error();
    if (auto st = names("mixes", f.options.mixes, parse_sweep_mix); !st) return st.error();
    if (auto st = names("places", f.options.places, parse_sweep_place); !st) return st.error();
    f.options.nmis = opts.at("nmis").get<std::uint32_t>();
    f.options.overrides.clear();
    for (const auto& s : opts.at("set"))
      f.options.overrides.push_back(Override{s.get<std::string>()});
    f.shard.index = j.at("shard").at("index").get<unsigned>();
    f.shard.count = j.at("shard").at("count").get<unsigned>();
    f.cells = j.at("cells").get<std::size_t>();
    for (const json& p : j.at("points")) {
      SweepPoint pt;
      f.point_cells.push_back(p.at("cell").get<std::size_t>());
      if (!parse_sweep_place(p.at("place").get<std::string>(), pt.c.place) ||
          !parse_sweep_mix(p.at("mix").get<std::string>(), pt.c.mix) ||
          !parse_sweep_mode(p.at("mode").get<std::string>(), pt.c.mode)) {
        return bad(
            fmt::format("point of cell {}: unknown place, mix or mode", f.point_cells.back()));
      }
      pt.c.handlers = p.at("handlers").get<unsigned>();
      pt.c.nmis = f.options.nmis;
      pt.nmis = p.at("nmis").get<std::uint64_t>();
      pt.deliveries = p.at("deliveries").get<std::uint64_t>();
      pt.coalesced = p.at("coalesced").get<std::uint64_t>();
      pt.dispatch_cycles = p.at("dispatch_cycles").get<std::uint64_t>();
      pt.handler_calls = p.at("handler_calls").get<std::uint64_t>();
      pt.unknown = p.at("unknown").get<std::uint64_t>();
      pt.lost = p.at("lost").get<std::uint64_t>();
      pt.host_cycles = p.at("host_cycles").get<std::uint64_t>();
      f.points.push_back(pt);
    }
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  if (auto st = check_sweep_options(f.options); !st) {
    return bad(fmt::format("its options: {}", st.error().message));
  }
  if (f.shard.index < 1 || f.shard.index > f.shard.count) {
    return bad(
        fmt::format("shard {}/{}: the index must be 1..count", f.shard.index, f.shard.count));
  }
  return f;
}

Result<std::vector<SweepPoint>> merge_sweep_shards(const std::vector<SweepShardFile>& shards) {
  if (shards.empty()) return Error{"error: sweep --merge: no shard given"};
  const SweepShardFile& first = shards.front();
  const std::vector<SweepCase> all = sweep_cases(first.options);
  const unsigned count = first.shard.count;
  std::vector<const SweepShardFile*> by_index(count + 1, nullptr);
  for (const SweepShardFile& f : shards) {
    if (f.options_json != first.options_json) {
      // Name the first option that differs.
      const auto a = nlohmann::json::parse(first.options_json);
      const auto b = nlohmann::json::parse(f.options_json);
      std::string key = "options";
      for (const auto& [k, v] : a.items()) {
        if (!b.contains(k) || b[k] != v) {
          key = k;
          break;
        }
      }
      return Error{fmt::format(
          "error: sweep --merge: {} and {} are shards of different sweeps: {} is {} in one, {} "
          "in the other",
          first.source, f.source, key, a.contains(key) ? a[key].dump() : a.dump(),
          b.contains(key) ? b[key].dump() : b.dump())};
    }
    if (f.shard.count != count) {
      return Error{fmt::format(
          "error: sweep --merge: {} is shard {}/{} but {} is shard {}/{}: a sweep is merged from "
          "the shards of one split",
          first.source, first.shard.index, count, f.source, f.shard.index, f.shard.count)};
    }
    if (f.cells != all.size()) {
      return Error{fmt::format(
          "error: sweep --merge: {} counts {} cells, its options give {}: written by another "
          "version of fredsim?",
          f.source, f.cells, all.size())};
    }
    if (const SweepShardFile* twice = by_index[f.shard.index]) {
      return Error{fmt::format("error: sweep --merge: shard {}/{} is given twice: {} and {}",
                               f.shard.index, count, twice->source, f.source)};
    }
    by_index[f.shard.index] = &f;
    const std::vector<std::size_t> want = sweep_shard_cells(all.size(), f.shard);
    if (f.point_cells != want) {
      return Error{fmt::format(
          "error: sweep --merge: {}: shard {}/{} of this sweep has {} cells, the file has {} "
          "points{}",
          f.source, f.shard.index, count, want.size(), f.points.size(),
          f.point_cells.size() == want.size() ? " for other cells" : "")};
    }
    for (std::size_t k = 0; k < want.size(); ++k) {
      const SweepCase& c = all[want[k]];
      const SweepCase& got = f.points[k].c;
      if (got.place != c.place || got.mix != c.mix || got.mode != c.mode ||
          got.handlers != c.handlers) {
        return Error{fmt::format("error: sweep --merge: {}: cell {} is {}, the file's point is {}",
                                 f.source, want[k], sweep_case_id(c), sweep_case_id(got))};
      }
    }
  }
  std::string missing;
  for (unsigned k = 1; k <= count; ++k) {
    if (by_index[k] == nullptr)
      missing += fmt::format("{}{}/{}", missing.empty() ? "" : ", ", k, count);
  }
  if (!missing.empty()) {
    return Error{fmt::format("error: sweep --merge: missing shard{} {} (given {} of {})",
                             missing.find(',') == std::string::npos ? "" : "s", missing,
                             shards.size(), count)};
  }
  std::vector<SweepPoint> points(all.size());
  for (unsigned k = 1; k <= count; ++k) {
    const SweepShardFile& f = *by_index[k];
    for (std::size_t p = 0; p < f.points.size(); ++p) {
      points[f.point_cells[p]] = f.points[p];
      points[f.point_cells[p]].c = all[f.point_cells[p]];
    }
  }
  return points;
}

std::string sweep_csv(const std::vector<SweepPoint>& points) {
  std::string s =
      "place,mix,mode,handlers,nmis,deliveries,coalesced,dispatch_cycles,cycles_per_nmi,"
      "handler_calls,handler_calls_per_nmi,unknown,lost,host_cycles,host_cycles_per_nmi\n";
  for (const SweepPoint& p : points) {
    s += fmt::format("{},{},{},{},{},{},{},{},{:.1f},{},{:.3f},{},{},{},{:.1f}\n",
                     to_string(p.c.place), to_string(p.c.mix), to_string(p.c.mode), p.c.handlers,
                     p.nmis, p.deliveries, p.coalesced, p.dispatch_cycles, p.cycles_per_nmi(),
                     p.handler_calls, p.calls_per_nmi(), p.unknown, p.lost, p.host_cycles,
                     p.host_cycles_per_nmi());
  }
  return s;
}

std::string sweep_json(const SweepOptions& o, const std::vector<SweepPoint>& points) {
  using nlohmann::ordered_json;
  const ordered_json opts = options_json(o);
  ordered_json list = ordered_json::array();
  for (const SweepPoint& p : points) {
    list.push_back(ordered_json{{"place", to_string(p.c.place)},
                                {"mix", to_string(p.c.mix)},
                                {"mode", to_string(p.c.mode)},
                                {"handlers", p.c.handlers},
                                {"nmis", p.nmis},
                                {"deliveries", p.deliveries},
                                {"coalesced", p.coalesced},
                                {"dispatch_cycles", p.dispatch_cycles},
                                {"cycles_per_nmi", p.cycles_per_nmi()},
                                {"handler_calls", p.handler_calls},
                                {"handler_calls_per_nmi", p.calls_per_nmi()},
                                {"unknown", p.unknown},
                                {"lost", p.lost},
                                {"host_cycles", p.host_cycles},
                                {"host_cycles_per_nmi", p.host_cycles_per_nmi()}});
  }
  return ordered_json{{"options", opts}, {"points", list}}.dump(2);
}

namespace {

// The points grouped by (place, mix), then handler count, then mode.
using Grid = std::map<std::pair<SweepPlace, SweepMix>,
                      std::map<unsigned, std::map<SweepMode, const SweepPoint*>>>;

Grid grid_of(const std::vector<SweepPoint>& points, std::vector<SweepMode>& modes) {
  Grid g;
  for (const SweepPoint& p : points) {
    g[{p.c.place, p.c.mix}][p.c.handlers][p.c.mode] = &p;
    if (std::find(modes.begin(), modes.end(), p.c.mode) == modes.end()) modes.push_back(p.c.mode);
  }
  std::sort(modes.begin(), modes.end());
  return g;
}

}  // namespace

std::string sweep_table(const std::vector<SweepPoint>& points) {
  std::vector<SweepMode> modes;
  const Grid g = grid_of(points, modes);
  std::string s;
  for (const auto& [key, rows] : g) {
    // In a VM a cell adds the host's cycles out of the guest per guest NMI.
    const bool vm = key.first == SweepPlace::vm;
    const int width = vm ? 24 : 18;
    s +=
        fmt::format("{}, {}\n{}\n", place_title(key.first), mix_title(key.second),
                    vm ? "guest dispatch cycles per guest NMI (guest handler calls per NMI) + host "
                         "cycles in VM exits per NMI"
                       : "dispatch cycles per NMI (handler calls per NMI)");
    s += fmt::format("{:>8}", "handlers");
    for (SweepMode m : modes)
      s += fmt::format("  {:>{}}", to_string(m), width);
    s += '\n';
    for (const auto& [handlers, cells] : rows) {
      s += fmt::format("{:>8}", handlers);
      for (SweepMode m : modes) {
        auto it = cells.find(m);
        if (it == cells.end()) {
          s += fmt::format("  {:>{}}", "-", width);
          continue;
        }
        const SweepPoint& p = *it->second;
        std::string cell = fmt::format("{:.0f} ({:.2f})", p.cycles_per_nmi(), p.calls_per_nmi());
        if (vm) cell += fmt::format(" + {:.0f}", p.host_cycles_per_nmi());
        s += fmt::format("  {:>{}}", cell, width);
      }
      s += '\n';
    }
    s += '\n';
  }
  return s;
}

std::uint32_t sweep_frequency_mhz(const SweepOptions& o) {
  // The clock of the sweep's scenarios after its overrides (timing.core_mhz is
  // the clock's other name): every cell has the same, so the first one tells.
  const std::vector<SweepCase> cases = sweep_cases(o);
  if (cases.empty()) return scenario::SystemSpec{}.frequency_mhz;
  auto spec = load_scenario_string(sweep_scenario(cases.front()), "<sweep>", o.overrides);
  return spec ? spec->system.frequency_mhz : scenario::SystemSpec{}.frequency_mhz;
}

namespace {

std::string gnuplot_quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\n') {
      out += "\\n";  // a double-quoted gnuplot string reads \n as a line break
      continue;
    }
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + '"';
}

// "2 GHz", "2.4 GHz", "800 MHz".
std::string clock_words(std::uint32_t mhz) {
  if (mhz < 1000) return fmt::format("{} MHz", mhz);
  std::string ghz = fmt::format("{:.3f}", mhz / 1000.0);
  while (ghz.back() == '0')
    ghz.pop_back();
  if (ghz.back() == '.') ghz.pop_back();
  return ghz + " GHz";
}

// What a series looks like: polling modes and bitmap modes in two colours, the
// two of a pair (IDT and FRED polling; v7 and v5) told apart by width, dash and
// point, the thin one drawn over the thick one, so that coinciding lines both show.
std::string series_style(SweepMode m) {
  switch (m) {
    case SweepMode::idt:
      return "lc rgb \"#d95f02\" lw 4 dt 1 pt 4 ps 1.8";
    case SweepMode::fred:
      return "lc rgb \"#7f2704\" lw 1.5 dt 2 pt 7 ps 0.8";
    case SweepMode::fred_nmisrc_v7:
      return "lc rgb \"#1b9e77\" lw 4 dt 1 pt 6 ps 1.8";
    case SweepMode::fred_nmisrc_v5:
      return "lc rgb \"#00441b\" lw 1.5 dt 3 pt 9 ps 0.8";
  }
  return "";
}

std::string_view mix_words(SweepMix m) {
  std::string_view t = mix_title(m);
  return t.substr(0, t.find(':'));
}

}  // namespace

std::string sweep_gnuplot(const std::vector<SweepPoint>& points, const SweepPlot& plot) {
  std::vector<SweepMode> modes;
  const Grid g = grid_of(points, modes);
  auto has = [&](SweepMode m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
  // v5 and v7 dispatch alike wherever the sweep has both (the revisions differ in
  // registration only): one series then, and the legend says so.
  bool merge_v5 = has(SweepMode::fred_nmisrc_v7) && has(SweepMode::fred_nmisrc_v5);
  for (const auto& [key, rows] : g) {
    for (const auto& [handlers, cells] : rows) {
      auto a = cells.find(SweepMode::fred_nmisrc_v7), b = cells.find(SweepMode::fred_nmisrc_v5);
      if ((a == cells.end()) != (b == cells.end())) merge_v5 = false;
      if (a != cells.end() && b != cells.end() &&
          (a->second->dispatch_cycles != b->second->dispatch_cycles ||
           a->second->handler_calls != b->second->handler_calls))
        merge_v5 = false;
    }
  }
  std::vector<SweepMode> shown;
  for (SweepMode m : modes)
    if (!(merge_v5 && m == SweepMode::fred_nmisrc_v5)) shown.push_back(m);
  auto title_of = [&](SweepMode m) {
    if (merge_v5 && m == SweepMode::fred_nmisrc_v7) return std::string("fred-nmisrc-v7 = v5");
    return std::string(to_string(m));
  };
  // The ratio panel: bitmap dispatch over FRED polling, where both exist.
  const bool ratio =
      has(SweepMode::fred) && (has(SweepMode::fred_nmisrc_v7) || has(SweepMode::fred_nmisrc_v5));
  const std::size_t cols = ratio ? 3 : 2;
  const std::size_t rows = g.size();

  // Data: a block per row and mode: handlers, cycles per NMI, calls per NMI,
  // cycles over FRED polling's (NaN where there is none).
  std::string data;
  unsigned lo_h = ~0u, hi_h = 0;
  std::vector<unsigned> all_h;
  std::size_t row = 0;
  struct Range {
    double lo = 1e300, hi = 0;
    void add(double v) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  };
  std::vector<std::array<Range, 3>> ranges(rows);
  std::vector<std::vector<bool>> ratio_series(rows);
  for (const auto& [key, by_h] : g) {
    for (SweepMode m : shown) {
      bool any_ratio = false;
      data += fmt::format("$r{}m{} << EOD\n", row, static_cast<unsigned>(m));
      for (const auto& [handlers, cells] : by_h) {
        auto it = cells.find(m);
        if (it == cells.end()) continue;
        const SweepPoint& p = *it->second;
        lo_h = std::min(lo_h, handlers);
        hi_h = std::max(hi_h, handlers);
        if (std::find(all_h.begin(), all_h.end(), handlers) == all_h.end())
          all_h.push_back(handlers);
        ranges[row][0].add(p.cycles_per_nmi());
        ranges[row][1].add(p.calls_per_nmi());
        std::string r = "NaN";
        auto polling = cells.find(SweepMode::fred);
        if (m != SweepMode::idt && m != SweepMode::fred && polling != cells.end() &&
            polling->second->cycles_per_nmi() > 0) {
          const double v = p.cycles_per_nmi() / polling->second->cycles_per_nmi();
          ranges[row][2].add(v);
          r = fmt::format("{:.4f}", v);
          any_ratio = true;
        }
        data += fmt::format("{} {:.1f} {:.3f} {}\n", handlers, p.cycles_per_nmi(),
                            p.calls_per_nmi(), r);
      }
      data += "EOD\n";
      ratio_series[row].push_back(any_ratio);
    }
    ++row;
  }
  std::sort(all_h.begin(), all_h.end());
  if (all_h.empty()) {
    lo_h = 1;
    hi_h = 1;
  }

  // Layout in pixels: a title line, the legend strip, then rows x cols panels.
  const double panel_w = 420, panel_h = 300, title_h = 40, key_h = 40;
  const double width = cols * panel_w, height = title_h + key_h + rows * panel_h;
  auto fx = [&](double px) { return px / width; };
  auto fy = [&](double px) { return px / height; };
  std::string xtics;
  for (unsigned h : all_h)
    xtics += fmt::format("{}{}", xtics.empty() ? "" : ",", h);

  std::string body;
  body += fmt::format("set multiplot title {} font \",12\"\n",
                      gnuplot_quoted("fredsim sweep: the cost of NMI dispatch against the number "
                                     "of LOCAL handlers registered"));
  // The one legend: a strip of its own, every series drawn with no data.
  body += fmt::format(
      "set origin 0,{}\nset size 1,{}\nunset border\nunset tics\nunset xlabel\nunset ylabel\n"
      "unset title\nunset logscale\nset xrange [0:1]\nset yrange [0:1]\nunset grid\n"
      "set key horizontal center center noautotitle samplen 4 spacing 1 width 2\nplot ",
      fy(rows * panel_h), fy(key_h));
  {
    std::string keys;
    for (SweepMode m : shown)
      keys += fmt::format("{}NaN with linespoints {} title {}", keys.empty() ? "" : ", ",
                          series_style(m), gnuplot_quoted(title_of(m)));
    body += keys + "\n";
  }
  body += fmt::format(
      "set border\nset tics\nunset key\nset grid\nset logscale x 2\nset xrange [{}:{}]\n"
      "set xtics ({})\nset xlabel \"LOCAL handlers registered\"\n",
      lo_h / 1.5, hi_h * 1.5, xtics);
  const std::string clock = clock_words(plot.frequency_mhz);
  row = 0;
  for (const auto& [key, by_h] : g) {
    const std::string where = fmt::format("{}, {}", place_title(key.first), mix_words(key.second));
    for (std::size_t col = 0; col < cols; ++col) {
      const Range& r = ranges[row][col];
      if (col == 2 && r.hi == 0) continue;  // no bitmap mode beside FRED polling here
      body += fmt::format("set origin {},{}\nset size {},{}\n", fx(col * panel_w),
                          fy((rows - 1 - row) * panel_h), fx(panel_w), fy(panel_h));
      std::string what, ylabel, yrange, column;
      if (col == 0) {
        what = "Dispatch time per NMI";
        ylabel = fmt::format("simulated cycles at {}", clock);
        // Tics at 1, 2 and 5 times each power of ten in the range.
        std::string tics;
        for (double decade = 1; decade <= r.hi * 1.4; decade *= 10) {
          for (double f : {1.0, 2.0, 5.0}) {
            const double v = decade * f;
            if (v >= r.lo / 1.4 && v <= r.hi * 1.4)
              tics += fmt::format("{}{:.0f}", tics.empty() ? "" : ",", v);
          }
        }
        yrange = fmt::format("set logscale y 10\nset yrange [{}:{}]\nset ytics {}\n", r.lo / 1.4,
                             r.hi * 1.4, tics.empty() ? "auto" : "(" + tics + ")");
        column = "2";
      } else if (col == 1) {
        what = "Handler calls per NMI";
        ylabel = "handler calls per NMI";
        yrange = fmt::format("set logscale y 2\nset yrange [{}:{}]\nset ytics auto\n", r.lo / 1.5,
                             r.hi * 1.5);
        column = "3";
      } else {
        what = "Bitmap dispatch over FRED polling";
        ylabel = "ratio of dispatch times";
        yrange = fmt::format("unset logscale y\nset yrange [0:{}]\nset ytics auto\n",
                             std::max(1.1, r.hi * 1.1));
        column = "4";
      }
      body += yrange;
      body += fmt::format("set title {} noenhanced\nset ylabel {}\n",
                          gnuplot_quoted(what + "\n" + where), gnuplot_quoted(ylabel));
      std::string plots;
      for (std::size_t i = 0; i < shown.size(); ++i) {
        const SweepMode m = shown[i];
        if (col == 2 && !ratio_series[row][i]) continue;
        plots += fmt::format("{}$r{}m{} using 1:{} with linespoints {} notitle",
                             plots.empty() ? "" : ", ", row, static_cast<unsigned>(m), column,
                             series_style(m));
      }
      if (col == 2) plots += ", 1 with lines lc rgb \"#999999\" dt 4 notitle";
      body += "plot " + plots + "\n";
    }
    ++row;
  }
  body += "unset multiplot\n";

  return fmt::format(
      "# fredsim sweep (gnuplot 5): dispatch time and handler calls per NMI, and bitmap\n"
      "# dispatch over polling, against the LOCAL handlers registered; a row per place\n"
      "# and mix. Written by `fredsim sweep`; the data is inline.\n"
      "{}"
      "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {{\n"
      "  set terminal pngcairo size {},{} font \",9\"\n"
      "}} else {{\n"
      "  set terminal png size {},{}\n"
      "}}\n"
      "set output {}\n{}"
      "set terminal svg size {},{} dynamic font \",9\"\n"
      "set output {}\n{}",
      data, width, height, width, height, gnuplot_quoted(plot.png), body, width, height,
      gnuplot_quoted(plot.svg), body);
}

std::string sweep_matplotlib(const std::string& json_path, const std::string& png_path) {
  auto quoted = [](const std::string& s) {
    return nlohmann::json(s).dump();  // a JSON string is a valid Python string literal
  };
  return fmt::format(
      "# fredsim sweep: dispatch cycles per NMI against LOCAL handlers (matplotlib).\n"
      "import json\n"
      "import matplotlib\n"
      "matplotlib.use('Agg')\n"
      "import matplotlib.pyplot as plt\n"
      "points = json.load(open({}))['points']\n"
      "panels = []\n"
      "for p in points:\n"
      "    if (p['place'], p['mix']) not in panels:\n"
      "        panels.append((p['place'], p['mix']))\n"
      "cols = min(4, len(panels))\n"
      "rows = (len(panels) + cols - 1) // cols\n"
      "fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)\n"
      "for i, (place, mix) in enumerate(panels):\n"
      "    ax = axes[i // cols][i % cols]\n"
      "    modes = []\n"
      "    for p in points:\n"
      "        if p['mode'] not in modes:\n"
      "            modes.append(p['mode'])\n"
      "    for mode in modes:\n"
      "        xs = [p['handlers'] for p in points if (p['place'], p['mix'], p['mode']) == "
      "(place, mix, mode)]\n"
      "        ys = [p['cycles_per_nmi'] for p in points if (p['place'], p['mix'], p['mode']) "
      "== (place, mix, mode)]\n"
      "        ax.plot(xs, ys, marker='o', label=mode)\n"
      "    ax.set_xscale('log', base=2)\n"
      "    ax.set_yscale('log')\n"
      "    ax.set_title(place + ': ' + mix)\n"
      "    ax.set_xlabel('LOCAL handlers')\n"
      "    ax.set_ylabel('cycles per NMI')\n"
      "    ax.grid(True, which='both', alpha=0.3)\n"
      "    ax.legend(fontsize=7)\n"
      "for j in range(len(panels), rows * cols):\n"
      "    axes[j // cols][j % cols].axis('off')\n"
      "fig.suptitle('fredsim sweep: dispatch cycles per NMI')\n"
      "fig.tight_layout()\n"
      "fig.savefig({}, dpi=100)\n",
      quoted(json_path), quoted(png_path));
}

}  // namespace fredsim::study

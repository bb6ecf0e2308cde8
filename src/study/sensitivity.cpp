// The sensitivity study (include/fredsim/study/sensitivity.hpp).
#include "fredsim/study/sensitivity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

namespace fredsim::study {

namespace {

constexpr std::size_t kTornadoBars = 12;

std::string_view kind_name(VariantKind k) {
  switch (k) {
    case VariantKind::baseline:
      return "baseline";
    case VariantKind::one_low:
      return "low";
    case VariantKind::one_high:
      return "high";
    case VariantKind::random:
      return "random";
  }
  return "?";
}

/// A cost times a factor, rounded; a cost that was not 0 stays at least 1.
Cycle scale(Cycle c, double factor) {
  const auto v = static_cast<Cycle>(std::llround(static_cast<double>(c) * factor));
  return c > 0 ? std::max<Cycle>(1, v) : 0;
}

/// A double in [0, 1) from 53 bits of the generator: the same on every
/// platform (std::uniform_real_distribution is not).
double unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Runs the study's cells with `costs` set; the cells in places x mixes order.
Result<std::vector<SensitivityCell>> run_variant(
    const SensitivityOptions& o, const std::vector<std::pair<TimingParam, Cycle>>& costs,
    const scenario::ScenarioRunner& runner) {
  SweepOptions s;
  s.handlers = {o.handlers};
  s.modes = {SweepMode::fred, SweepMode::fred_nmisrc_v7};
  s.mixes = o.mixes;
  s.places = o.places;
  s.nmis = o.nmis;
  if (o.profile != "default") s.overrides.push_back({"system.timing=" + o.profile});
  for (const auto& [p, c] : costs)
    s.overrides.push_back({fmt::format("timing.{}={}", timing_param_name(p), c)});
  if (auto st = check_sweep_options(s); !st) return st.error();
  std::vector<std::size_t> all(sweep_cases(s).size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  auto points = run_sweep_cells(s, all, runner, o.jobs);
  if (!points) return points.error();
  std::vector<SensitivityCell> cells;
  for (SweepPlace place : o.places) {
    for (SweepMix mix : o.mixes) {
      SensitivityCell cell;
      cell.place = place;
      cell.mix = mix;
      for (const SweepPoint& p : *points) {
        if (p.c.place != place || p.c.mix != mix) continue;
        const bool bitmap = p.c.mode == SweepMode::fred_nmisrc_v7;
        (bitmap ? cell.bitmap_cycles : cell.polling_cycles) = p.cycles_per_nmi();
        (bitmap ? cell.bitmap_calls : cell.polling_calls) = p.calls_per_nmi();
        (bitmap ? cell.bitmap_lost : cell.polling_lost) = p.lost;
        (bitmap ? cell.bitmap_unknown : cell.polling_unknown) = p.unknown;
      }
      cells.push_back(cell);
    }
  }
  return cells;
}

std::string cell_title(const SensitivityCell& c) {
  return fmt::format("{} {}", to_string(c.place), to_string(c.mix));
}

/// For the tornado and the table: per varied cost, the saved cycles of cell
/// `cell` at its low and high factor, largest swing first.
struct Swing {
  std::string param;
  double low = 0, high = 0;
  double width() const { return std::fabs(high - low); }
};
std::vector<Swing> swings(const SensitivityReport& r, std::size_t cell) {
  std::map<std::string, Swing> by_param;
  for (const SensitivityVariant& v : r.variants) {
    if (v.kind != VariantKind::one_low && v.kind != VariantKind::one_high) continue;
    Swing& s = by_param[v.param];
    s.param = v.param;
    (v.kind == VariantKind::one_low ? s.low : s.high) = v.cells[cell].saved();
  }
  std::vector<Swing> out;
  for (auto& [name, s] : by_param)
    out.push_back(s);
  std::stable_sort(out.begin(), out.end(),
                   [](const Swing& a, const Swing& b) { return a.width() > b.width(); });
  return out;
}

}  // namespace

std::vector<TimingParam> sensitivity_params(const NamedTimingProfile& profile) {
  std::vector<TimingParam> out;
  for (const TimingParamInfo& p : timing_params()) {
    if (p.param == TimingParam::core_mhz) continue;
    const ProfileCost* c = profile_cost(profile, p.param);
    const CostBasis basis = c ? c->basis : p.basis;
    if (basis != CostBasis::measured) out.push_back(p.param);
  }
  return out;
}

Status check_sensitivity_options(const SensitivityOptions& o) {
  if (!(o.low > 0 && o.low < 1)) {
    return Error{fmt::format("error: sensitivity: --low {} must be above 0 and below 1", o.low)};
  }
  if (!(o.high > 1 && o.high <= 100)) {
    return Error{
        fmt::format("error: sensitivity: --high {} must be above 1 and at most 100", o.high)};
  }
  if (o.jobs == 0) return Error{"error: sensitivity: -j needs at least 1"};
  if (o.samples > 10'000) {
    return Error{fmt::format("error: sensitivity: --samples {} is more than 10,000", o.samples)};
  }
  if (find_timing_profile(o.profile) == nullptr) {
    return Error{fmt::format("error: sensitivity: --timing: {}",
                             TimingProfile::named(o.profile).error().message)};
  }
  SweepOptions s;
  s.handlers = {o.handlers};
  s.mixes = o.mixes;
  s.places = o.places;
  s.nmis = o.nmis;
  if (auto st = check_sweep_options(s); !st) return st;
  for (SweepMix mix : o.mixes) {
    if (o.handlers < sweep_min_handlers(mix)) {
      return Error{fmt::format("error: sensitivity: --mixes {} needs at least {} handlers",
                               to_string(mix), sweep_min_handlers(mix))};
    }
  }
  return {};
}

Result<SensitivityReport> run_sensitivity(const SensitivityOptions& o,
                                          const scenario::ScenarioRunner& runner) {
  if (auto st = check_sensitivity_options(o); !st) return st.error();
  SensitivityReport r;
  r.options = o;
  const NamedTimingProfile& profile = *find_timing_profile(o.profile);
  const TimingProfile base = *TimingProfile::named(o.profile);
  r.varied = sensitivity_params(profile);

  auto add = [&](SensitivityVariant v) -> Status {
    auto cells = run_variant(o, v.costs, runner);
    if (!cells) {
      return Error{fmt::format("{} (variant {})", cells.error().message, v.label)};
    }
    v.cells = std::move(*cells);
    r.variants.push_back(std::move(v));
    return {};
  };
  if (auto st = add({VariantKind::baseline, "baseline", "", {}, {}}); !st) return st.error();
  for (TimingParam p : r.varied) {
    if (base[p] == 0) continue;  // a cost of 0 stays 0 at any factor
    for (auto [kind, f] :
         {std::pair{VariantKind::one_low, o.low}, {VariantKind::one_high, o.high}}) {
      const std::string name(timing_param_name(p));
      if (auto st = add({kind, fmt::format("{} x{}", name, f), name, {{p, scale(base[p], f)}}, {}});
          !st) {
        return st.error();
      }
    }
  }
  std::mt19937_64 rng(o.seed);
  const double lo = std::log(o.low), hi = std::log(o.high);
  for (unsigned i = 0; i < o.samples; ++i) {
    SensitivityVariant v{VariantKind::random, fmt::format("random {}", i + 1), "", {}, {}};
    for (TimingParam p : r.varied) {
      const double f = std::exp(lo + unit(rng) * (hi - lo));
      v.costs.emplace_back(p, scale(base[p], f));
    }
    if (auto st = add(std::move(v)); !st) return st.error();
  }
  return r;
}

std::string sensitivity_csv(const SensitivityReport& r) {
  std::string s =
      "variant,kind,param,place,mix,polling_cycles_per_nmi,bitmap_cycles_per_nmi,saved_cycles_per_"
      "nmi,ratio,polling_calls_per_nmi,bitmap_calls_per_nmi,polling_lost,bitmap_lost,polling_"
      "unknown,bitmap_unknown\n";
  for (const SensitivityVariant& v : r.variants) {
    for (const SensitivityCell& c : v.cells) {
      s += fmt::format("{},{},{},{},{},{:.1f},{:.1f},{:.1f},{:.3f},{:.3f},{:.3f},{},{},{},{}\n",
                       v.label, kind_name(v.kind), v.param, to_string(c.place), to_string(c.mix),
                       c.polling_cycles, c.bitmap_cycles, c.saved(), c.ratio(), c.polling_calls,
                       c.bitmap_calls, c.polling_lost, c.bitmap_lost, c.polling_unknown,
                       c.bitmap_unknown);
    }
  }
  return s;
}

std::string sensitivity_json(const SensitivityReport& r) {
  using nlohmann::ordered_json;
  ordered_json j;
  ordered_json opts;
  opts["handlers"] = r.options.handlers;
  ordered_json mixes = ordered_json::array(), places = ordered_json::array();
  for (SweepMix m : r.options.mixes)
    mixes.push_back(std::string(to_string(m)));
  for (SweepPlace p : r.options.places)
    places.push_back(std::string(to_string(p)));
  opts["mixes"] = mixes;
  opts["places"] = places;
  opts["low"] = r.options.low;
  opts["high"] = r.options.high;
  opts["samples"] = r.options.samples;
  opts["seed"] = r.options.seed;
  opts["nmis"] = r.options.nmis;
  opts["timing"] = r.options.profile;
  j["options"] = opts;
  ordered_json varied = ordered_json::array();
  for (TimingParam p : r.varied)
    varied.push_back(std::string(timing_param_name(p)));
  j["varied"] = varied;
  ordered_json variants = ordered_json::array();
  for (const SensitivityVariant& v : r.variants) {
    ordered_json jv;
    jv["label"] = v.label;
    jv["kind"] = std::string(kind_name(v.kind));
    if (!v.param.empty()) jv["param"] = v.param;
    ordered_json costs = ordered_json::object();
    for (const auto& [p, c] : v.costs)
      costs[std::string(timing_param_name(p))] = c;
    jv["costs"] = costs;
    ordered_json cells = ordered_json::array();
    for (const SensitivityCell& c : v.cells) {
      ordered_json jc;
      jc["place"] = std::string(to_string(c.place));
      jc["mix"] = std::string(to_string(c.mix));
      jc["polling_cycles_per_nmi"] = c.polling_cycles;
      jc["bitmap_cycles_per_nmi"] = c.bitmap_cycles;
      jc["saved_cycles_per_nmi"] = c.saved();
      jc["polling_calls_per_nmi"] = c.polling_calls;
      jc["bitmap_calls_per_nmi"] = c.bitmap_calls;
      jc["polling_lost"] = c.polling_lost;
      jc["bitmap_lost"] = c.bitmap_lost;
      jc["polling_unknown"] = c.polling_unknown;
      jc["bitmap_unknown"] = c.bitmap_unknown;
      cells.push_back(jc);
    }
    jv["cells"] = cells;
    variants.push_back(jv);
  }
  j["variants"] = variants;
  return j.dump(1);
}

std::string sensitivity_table(const SensitivityReport& r) {
  const SensitivityOptions& o = r.options;
  std::string s = fmt::format(
      "bitmap dispatch (FRED + NMI-source v7) against polling (FRED) at {} LOCAL handlers, "
      "timing profile \"{}\"\n"
      "{} costs with no measurement behind them, each x{} and x{} alone, then all at once "
      "({} draws, seed {})\n\n",
      o.handlers, o.profile, r.varied.size(), o.low, o.high, o.samples, o.seed);
  s += fmt::format("{:<24} {:>12} {:>23} {:>23} {:>16} {:>7}\n", "place / mix", "saved/NMI",
                   "one at a time", "all at once", "ratio range", "lost");
  const SensitivityVariant& base = r.variants.front();
  for (std::size_t i = 0; i < base.cells.size(); ++i) {
    double one_lo = base.cells[i].saved(), one_hi = one_lo, all_lo = one_lo, all_hi = one_lo;
    double ratio_lo = base.cells[i].ratio(), ratio_hi = ratio_lo;
    std::uint64_t lost = 0;
    for (const SensitivityVariant& v : r.variants) {
      const SensitivityCell& c = v.cells[i];
      const bool random = v.kind == VariantKind::random;
      double& lo = random ? all_lo : one_lo;
      double& hi = random ? all_hi : one_hi;
      lo = std::min(lo, c.saved());
      hi = std::max(hi, c.saved());
      ratio_lo = std::min(ratio_lo, c.ratio());
      ratio_hi = std::max(ratio_hi, c.ratio());
      lost = std::max({lost, c.polling_lost, c.bitmap_lost});
    }
    s += fmt::format("{:<24} {:>12.0f} {:>23} {:>23} {:>16} {:>7}\n", cell_title(base.cells[i]),
                     base.cells[i].saved(), fmt::format("{:.0f} .. {:.0f}", one_lo, one_hi),
                     fmt::format("{:.0f} .. {:.0f}", all_lo, all_hi),
                     fmt::format("{:.1f}x .. {:.1f}x", ratio_lo, ratio_hi), lost);
  }
  s += "\nthe costs that move the saving most (saved cycles per NMI at the low and high "
       "factor):\n";
  for (std::size_t i = 0; i < base.cells.size(); ++i) {
    std::vector<Swing> sw = swings(r, i);
    s += fmt::format("  {}:", cell_title(base.cells[i]));
    std::size_t shown = 0;
    for (const Swing& w : sw) {
      if (shown == 4 || w.width() == 0) break;
      s += fmt::format(" {} {:.0f}..{:.0f};", w.param, w.low, w.high);
      ++shown;
    }
    if (shown == 0) s += " none moves it";
    s += "\n";
  }
  return s;
}

std::string sensitivity_gnuplot(const SensitivityReport& r, const std::string& png_path) {
  std::string escaped;
  for (char ch : png_path) {
    if (ch == '"' || ch == '\\') escaped += '\\';
    escaped += ch;
  }
  const SensitivityVariant& base = r.variants.front();
  // One panel per place, for the first mix.
  std::string panels, data;
  std::size_t panel = 0;
  for (std::size_t i = 0; i < base.cells.size(); ++i) {
    if (base.cells[i].mix != r.options.mixes.front()) continue;
    std::vector<Swing> sw = swings(r, i);
    std::erase_if(sw, [](const Swing& w) { return w.width() == 0; });
    if (sw.size() > kTornadoBars) sw.resize(kTornadoBars);
    data += fmt::format("$t{} << EOD\n", panel);
    // Largest swing on top: gnuplot's y grows upwards.
    for (std::size_t k = 0; k < sw.size(); ++k) {
      const Swing& w = sw[sw.size() - 1 - k];
      data += fmt::format("{} \"{}\" {:.1f} {:.1f}\n", k, w.param, std::min(w.low, w.high),
                          std::max(w.low, w.high));
    }
    data += "EOD\n";
    panels += fmt::format(
        "set title \"{}, {} handlers: cycles saved per NMI (bitmap vs polling)\"\n"
        "set yrange [-1:{}]\n"
        "set arrow 1 from {:.1f}, graph 0 to {:.1f}, graph 1 nohead dt 2\n"
        "plot $t{} using (($3+$4)/2):1:3:4:($1-0.35):($1+0.35):ytic(2) with boxxyerrorbars "
        "fs solid 0.5 notitle\n",
        cell_title(base.cells[i]), r.options.handlers, std::max<std::size_t>(1, sw.size()),
        base.cells[i].saved(), base.cells[i].saved(), panel);
    ++panel;
  }
  return fmt::format(
      "# fredsim sensitivity: how the saving of bitmap dispatch moves with each assumed cost "
      "at x{} and x{} (gnuplot 5).\n"
      "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {{\n"
      "  set terminal pngcairo size 900,{} font \",9\"\n"
      "}} else {{\n"
      "  set terminal png size 900,{}\n"
      "}}\n"
      "set output \"{}\"\nset termoption noenhanced\n{}"
      "set multiplot layout {},1\n"
      "set grid x\nset xlabel \"simulated cycles saved per NMI (dashed: the default costs)\"\n"
      "{}unset multiplot\n",
      r.options.low, r.options.high, std::max<std::size_t>(1, panel) * 360,
      std::max<std::size_t>(1, panel) * 360, escaped, data, std::max<std::size_t>(1, panel),
      panels);
}

}  // namespace fredsim::study

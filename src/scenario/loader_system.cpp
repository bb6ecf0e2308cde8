// [system], [timing] and [kernel]: the machine and the kernel a scenario runs on.
#include <limits>

#include "fredsim/apic/constants.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

void Validator::read_system(const toml::table& t) {
  SystemSpec& s = spec_.system;
  s.loc = locate(t);
  if (!s.loc.known()) s.loc = root_loc_;
  TableReader r(t, "system", &s.keys);
  const Field cpus = r.take("cpus");
  const Field delivery = r.take("delivery");
  const Field nmi_source = r.take("nmi_source");
  const Field apic = r.take("apic");
  const Field kernel = r.take("kernel");
  const Field timing = r.take("timing");
  const Field seed = r.take("seed");
  const Field end = r.take("end");
  const Field frequency_mhz = r.take("frequency_mhz");
  if (!known_keys(r, "in [system]")) return;
  opt(cpus, s.cpus, in_range(1, machine::kMaxCpus));
  opt(delivery, s.delivery, one_of(kDeliveryNames));
  s.nmi_source = s.delivery == Delivery::fred;  // the default goes with the delivery
  opt(nmi_source, s.nmi_source, a_boolean());
  opt(apic, s.apic, one_of(kApicNames));
  opt(kernel, s.kernel, one_of(kKernelNames));
  opt(timing, s.timing, [this](const toml::node& n, std::string_view w) {
    auto name = string(n, w);
    if (!name) return name;
    if (!TimingProfile::named(*name)) {
      // The profile's message quotes the name: quote it clipped.
      fail(locate(n),
           fmt::format("{}: {}", w, TimingProfile::named(input::clip(*name)).error().message));
      return std::optional<std::string>{};
    }
    return name;
  });
  opt(seed, s.seed, in_range(0, kMaxInt));
  opt(end, s.end, a_cycle());
  opt(frequency_mhz, s.frequency_mhz, in_range(1, kMaxFrequencyMhz));
}

void Validator::read_system_consistency() {
  const SystemSpec& s = spec_.system;
  if (s.apic == apic::ApicMode::xapic && s.cpus > apic::kXapicMaxCpus) {
    const SourceLoc& loc =
        s.keys.has("apic") ? s.keys.loc_of("apic", s.loc) : s.keys.loc_of("cpus", s.loc);
    fail(loc, fmt::format("apic = \"xapic\" addresses at most {} CPUs, but cpus = {} (use "
                          "apic = \"x2apic\")",
                          apic::kXapicMaxCpus, s.cpus));
    return;
  }
  if (s.nmi_source && s.delivery == Delivery::idt) {
    fail(s.keys.loc_of("nmi_source", s.loc),
         "nmi_source = true needs delivery = \"fred\" (NMI-source reports the bitmap as FRED "
         "event data; IDT delivery has none)");
  }
}

/// [timing] takes the names of the timing profile's parameters, so its keys are
/// the profile's list rather than a list of the loader's.
void Validator::read_timing(const toml::table& t) {
  for (auto&& [k, v] : t) {
    if (error_) return;
    auto param = timing_param_by_name(k.str());
    if (!param) {
      std::string names;
      for (const auto& p : timing_params()) {
        if (!names.empty()) names += ", ";
        names += p.name;
      }
      fail(locate_key(k, v), fmt::format("unknown timing parameter '{}' in [timing] "
                                         "(allowed: {})",
                                         input::clip(k.str()), names));
      return;
    }
    const std::string what = fmt::format("timing.{}", k.str());
    if (*param == TimingParam::core_mhz) {
      read_core_mhz(v, what);
      continue;
    }
    if (auto c = cost(v, what)) spec_.timing.push_back(TimingOverride{*param, *c, locate(v)});
  }
}

/// One clock: system.frequency_mhz converts every cycle count to time (the
/// kernel's ns, the traces' timestamps, the durations). The profile's core_mhz is
/// that clock under the profile's name, so timing.core_mhz is another name for
/// system.frequency_mhz, never a second clock: it sets system.frequency_mhz, and
/// a file that gives the two different values is refused.
void Validator::read_core_mhz(const toml::node& v, const std::string& what) {
  const auto mhz = integer(v, what, 1, kMaxFrequencyMhz);
  if (!mhz) return;
  SystemSpec& s = spec_.system;
  if (s.keys.has("frequency_mhz") && s.frequency_mhz != *mhz) {
    fail(locate(v),
         fmt::format("{} = {} disagrees with system.frequency_mhz = {}: a run has one clock; set "
                     "system.frequency_mhz only",
                     what, *mhz, s.frequency_mhz));
    return;
  }
  s.frequency_mhz = static_cast<std::uint32_t>(*mhz);
}

void Validator::read_kernel(const toml::table& t) {
  KernelSpec& kn = spec_.kernel;
  kn.loc = locate(t);
  TableReader r(t, "kernel", &kn.keys);
  const Field unknown_nmi_panic = r.take("unknown_nmi_panic");
  const Field panic_on_unrecovered_nmi = r.take("panic_on_unrecovered_nmi");
  const Field panic_on_io_nmi = r.take("panic_on_io_nmi");
  const Field ignore_nmis = r.take("ignore_nmis");
  const Field nmi_longest_ns = r.take("nmi_longest_ns");
  const Field source_vectors = r.take("source_vectors");
  if (!known_keys(r, "in [kernel]")) return;
  opt(unknown_nmi_panic, kn.unknown_nmi_panic, a_boolean());
  opt(panic_on_unrecovered_nmi, kn.panic_on_unrecovered_nmi, a_boolean());
  opt(panic_on_io_nmi, kn.panic_on_io_nmi, a_boolean());
  opt(ignore_nmis, kn.ignore_nmis, in_range(0, std::numeric_limits<std::int32_t>::max()));
  opt(nmi_longest_ns, kn.nmi_longest_ns, in_range(0, kMaxInt));
  // The bitmap has 16 bits (docs/hardware.md §2); the series names 8 vectors.
  opt(source_vectors, kn.source_vectors, in_range(8, 16));
}

}  // namespace fredsim::scenario::loader

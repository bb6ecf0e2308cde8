#include "fredsim/scenario/loader.hpp"

// toml++ is used header-only and without exceptions (see CMakeLists.txt): parse
// errors come back as values, and nothing of it is visible outside this file.
#include <fmt/format.h>
#include "scenario/toml.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <initializer_list>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <unordered_map>

#include "fredsim/apic/constants.hpp"
#include "fredsim/kernel_model/handler_model.hpp"
#include "scenario/input.hpp"
#include "scenario/names.hpp"

namespace fredsim::scenario {
namespace {

// Nodes parsed from a --set argument carry this prefix and the argument as their
// source path, so errors about them name the argument instead of a file line.
constexpr std::string_view kSetSourcePrefix = "--set ";
// A --set VALUE that is a decimal integer beyond 64 bits stands in the tree as
// the nearest 64-bit integer with this prefix on its source path, so the key's
// own range check reports it ("system.cpus = 99999999999999999999 is out of
// range (1..4096)") instead of taking it as a string or as that integer.
constexpr std::string_view kSetOverflowPrefix = "(beyond 64 bits) --set ";
constexpr std::size_t kMaxKeyParts = 8;       // of a --set KEY
constexpr std::size_t kMaxFileKeyParts = 16;  // of a key or table name in a file
constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();
constexpr auto kMaxTime = static_cast<std::int64_t>(kMaxCycle);
constexpr auto kMaxCostCycles = static_cast<std::int64_t>(kMaxCost);

using Keys = std::span<const std::string_view>;

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "a value";
}

std::string join(Keys keys) {
  std::string out;
  for (auto k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::optional<SourceLoc> from_region(const toml::source_region& r) {
  if (r.path) {
    for (std::string_view prefix : {kSetSourcePrefix, kSetOverflowPrefix}) {
      if (!std::string_view(*r.path).starts_with(prefix)) continue;
      SourceLoc l;
      l.set_arg = r.path->substr(prefix.size());
      return l;
    }
  }
  if (r.begin.line == 0) return std::nullopt;
  return SourceLoc{r.begin.line, r.begin.column, {}};
}

/// The place of a node: its own source, else (a table made by --set) the first
/// descendant that has one.
SourceLoc locate(const toml::node& n) {
  if (auto l = from_region(n.source())) return *l;
  if (const auto* t = n.as_table()) {
    for (auto&& [k, v] : *t) {
      if (auto l = locate(v); l.known()) return l;
    }
  } else if (const auto* a = n.as_array()) {
    for (const auto& v : *a) {
      if (auto l = locate(v); l.known()) return l;
    }
  }
  return {};
}

SourceLoc locate_key(const toml::key& k, const toml::node& v) {
  if (auto l = from_region(k.source())) return *l;
  return locate(v);
}

/// The digits of a --set integer beyond 64 bits (kSetOverflowPrefix), or none.
std::optional<std::string_view> overflowed_text(const toml::node& n) {
  const auto& path = n.source().path;
  if (!path || !std::string_view(*path).starts_with(kSetOverflowPrefix)) return std::nullopt;
  std::string_view arg = std::string_view(*path).substr(kSetOverflowPrefix.size());
  arg.remove_prefix(std::min(arg.size(), arg.find('=') + 1));
  while (!arg.empty() && (arg.front() == ' ' || arg.front() == '\t'))
    arg.remove_prefix(1);
  while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t'))
    arg.remove_suffix(1);
  return arg;
}

/// The range a value `below` or above it missed: "1..4096"; for the wide ranges
/// of times and costs the side it missed, "at least 0" or "at most 2147483648
/// (2^31)".
std::string range_text(std::int64_t min, std::int64_t max, bool below) {
  if (max == kMaxInt || ((max == kMaxTime || max == kMaxCostCycles) && below)) {
    return fmt::format("at least {}", min);
  }
  if (max == kMaxTime) return fmt::format("at most {} (2^50, the end of simulated time)", max);
  if (max == kMaxCostCycles) return fmt::format("at most {} (2^31)", max);
  return fmt::format("{}..{}", min, max);
}

/// Validates a parsed tree into a ScenarioSpec. Keeps the first error; after it,
/// getters return defaults and the caller stops at the next checkpoint.
class Validator {
 public:
  explicit Validator(ScenarioSpec& spec) : spec_(spec) {}

  std::optional<Error> run(const toml::table& root) {
    root_loc_ = SourceLoc{1, 1, {}};
    check_keys(root, "at the top level",
               {"name", "description", "system", "timing", "kernel", "handler", "event", "expect"});
    if (error_) return error_;
    read_top(root);
    if (error_) return error_;
    if (const auto* t = table(root, "system")) read_system(*t);
    if (error_) return error_;
    read_system_consistency();
    if (error_) return error_;
    if (const auto* t = table(root, "timing")) read_timing(*t);
    if (const auto* t = table(root, "kernel")) read_kernel(*t);
    if (error_) return error_;
    for (const auto* t : array_of_tables(root, "handler")) {
      read_handler(*t);
      if (error_) return error_;
    }
    std::size_t index = 0;
    for (const auto* t : array_of_tables(root, "event")) {
      read_event(*t, index++);
      if (error_) return error_;
    }
    check_intervals();
    if (error_) return error_;
    std::stable_sort(spec_.events.begin(), spec_.events.end(),
                     [](const EventSpec& a, const EventSpec& b) { return a.at < b.at; });
    for (const auto* t : array_of_tables(root, "expect")) {
      read_expect(*t);
      if (error_) return error_;
    }
    return error_;
  }

 private:
  void fail(const SourceLoc& loc, std::string what) {
    if (!error_) error_ = spec_.error_at(loc, what);
  }

  // --- structure ---------------------------------------------------------------

  void check_keys(const toml::table& t, std::string_view what,
                  std::initializer_list<std::string_view> allowed) {
    check_keys(t, what, Keys(allowed.begin(), allowed.size()));
  }

  void check_keys(const toml::table& t, std::string_view what, Keys allowed) {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      fail(locate_key(k, v), fmt::format("unknown key '{}' {} (allowed: {})", input::clip(k.str()),
                                         what, join(allowed)));
      return;
    }
  }

  const toml::table* table(const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    if (!n) return nullptr;
    if (const auto* t = n->as_table()) return t;
    fail(locate(*n),
         fmt::format("'{}' must be a table ([{}]), not {}", key, key, type_name(n->type())));
    return nullptr;
  }

  std::vector<const toml::table*> array_of_tables(const toml::table& root, std::string_view key) {
    std::vector<const toml::table*> out;
    const toml::node* n = root.get(key);
    if (!n || error_) return out;
    const auto* a = n->as_array();
    if (!a) {
      fail(locate(*n), fmt::format("'{}' must be an array of tables ([[{}]]), not {}", key, key,
                                   type_name(n->type())));
      return out;
    }
    for (const auto& e : *a) {
      const auto* t = e.as_table();
      if (!t) {
        fail(locate(e), fmt::format("each '{}' must be a table ([[{}]]), not {}", key, key,
                                    type_name(e.type())));
        return {};
      }
      out.push_back(t);
    }
    return out;
  }

  /// The node of a key, with its location recorded in `keys`.
  static const toml::node* field(const toml::table& t, std::string_view key, KeyLocations& keys) {
    const toml::node* n = t.get(key);
    if (n) keys.add(std::string(key), locate(*n));
    return n;
  }

  // --- typed values --------------------------------------------------------------

  std::optional<std::int64_t> integer(const toml::node& n, std::string_view what, std::int64_t min,
                                      std::int64_t max) {
    const auto* v = n.as_integer();
    if (!v) {
      fail(locate(n), fmt::format("{} must be an integer, not {}", what, type_name(n.type())));
      return std::nullopt;
    }
    std::int64_t x = v->get();
    if (auto big = overflowed_text(n)) {
      fail(locate(n), fmt::format("{} = {} is out of range ({}; beyond 64 bits)", what,
                                  input::clip(*big), range_text(min, max, x < 0)));
      return std::nullopt;
    }
    if (x < min || x > max) {
      fail(locate(n),
           fmt::format("{} = {} is out of range ({})", what, x, range_text(min, max, x < min)));
      return std::nullopt;
    }
    return x;
  }

  /// A point in simulated time: 0..kMaxCycle (docs/scenarios.md "Limits").
  std::optional<Cycle> cycle(const toml::node& n, std::string_view what) {
    auto x = integer(n, what, 0, kMaxTime);
    if (!x) return std::nullopt;
    return static_cast<Cycle>(*x);
  }

  /// A cost in cycles: 0..kMaxCost (docs/scenarios.md "Limits").
  std::optional<Cycle> cost(const toml::node& n, std::string_view what) {
    auto x = integer(n, what, 0, kMaxCostCycles);
    if (!x) return std::nullopt;
    return static_cast<Cycle>(*x);
  }

  std::optional<bool> boolean(const toml::node& n, std::string_view what) {
    if (const auto* v = n.as_boolean()) return v->get();
    fail(locate(n), fmt::format("{} must be true or false, not {}", what, type_name(n.type())));
    return std::nullopt;
  }

  std::optional<std::string> string(const toml::node& n, std::string_view what) {
    if (const auto* v = n.as_string()) return v->get();
    fail(locate(n), fmt::format("{} must be a string, not {}", what, type_name(n.type())));
    return std::nullopt;
  }

  template <class E, std::size_t N>
  std::optional<E> enumeration(const toml::node& n, std::string_view what,
                               const Names<E, N>& names) {
    auto s = string(n, what);
    if (!s) return std::nullopt;
    if (auto e = value_of(names, *s)) return e;
    fail(locate(n),
         fmt::format("{} = \"{}\" is not one of {}", what, input::clip(*s), quoted_names(names)));
    return std::nullopt;
  }

  std::optional<CpuId> cpu_number(const toml::node& n, std::string_view what) {
    const auto* v = n.as_integer();
    if (!v) {
      fail(locate(n), fmt::format("{} must be a CPU number, not {}", what, type_name(n.type())));
      return std::nullopt;
    }
    std::int64_t x = v->get();
    std::uint32_t cpus = spec_.system.cpus;
    const auto big = overflowed_text(n);
    if (big || x < 0 || x >= static_cast<std::int64_t>(cpus)) {
      fail(locate(n), fmt::format("{} = {} is not a CPU of this system (cpus = {}: 0..{})", what,
                                  big ? input::clip(*big) : std::to_string(x), cpus, cpus - 1));
      return std::nullopt;
    }
    return static_cast<CpuId>(x);
  }

  /// Reads an optional key into `out` with `get` (a member taking node and name).
  template <class T, class Get>
  void opt(const toml::table& t, std::string_view key, std::string_view what, KeyLocations& keys,
           T& out, Get get) {
    if (error_) return;
    if (const auto* n = field(t, key, keys)) {
      if (auto v = get(*n, fmt::format("{}.{}", what, key))) out = static_cast<T>(*v);
    }
  }

  /// "declared: a, b, c": the first few names, so a file of 100,000 handlers
  /// does not make a message of them all.
  std::string declared_handlers() const {
    constexpr std::size_t kListed = 8;
    if (spec_.handlers.empty()) return "no handler is declared";
    std::string out = "declared: ";
    for (std::size_t i = 0; i < spec_.handlers.size() && i < kListed; ++i) {
      if (i) out += ", ";
      out += input::clip(spec_.handlers[i].name);
    }
    if (spec_.handlers.size() > kListed) {
      out += fmt::format(", ... ({} in all)", spec_.handlers.size());
    }
    return out;
  }

  /// The declared handler of that name: a hash look-up, so naming handlers costs
  /// the same in a file of ten handlers and of a million.
  const HandlerSpec* find_handler(const std::string& name) const {
    const auto it = handler_index_.find(name);
    return it == handler_index_.end() ? nullptr : &spec_.handlers[it->second];
  }

  std::optional<std::string> handler_name(const toml::node& n, std::string_view what) {
    auto s = string(n, what);
    if (!s) return std::nullopt;
    if (!find_handler(*s)) {
      fail(locate(n), fmt::format("{} names no handler '{}' ({})", what, input::clip(*s),
                                  declared_handlers()));
      return std::nullopt;
    }
    return s;
  }

  // --- tables --------------------------------------------------------------------

  void read_top(const toml::table& root) {
    const toml::node* n = root.get("name");
    if (!n) {
      fail(root_loc_, "missing required key 'name' (the scenario's name)");
      return;
    }
    if (auto s = string(*n, "name")) {
      if (s->empty()) fail(locate(*n), "name must not be empty");
      spec_.name = *s;
    }
    if (const auto* d = root.get("description")) {
      if (auto s = string(*d, "description")) spec_.description = *s;
    }
  }

  void read_system(const toml::table& t) {
    SystemSpec& s = spec_.system;
    s.loc = locate(t);
    if (!s.loc.known()) s.loc = root_loc_;
    check_keys(t, "in [system]",
               {"cpus", "delivery", "nmi_source", "apic", "kernel", "timing", "seed", "end",
                "frequency_mhz"});
    auto& k = s.keys;
    opt(t, "cpus", "system", k, s.cpus,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 1, kMaxCpus); });
    opt(t, "delivery", "system", k, s.delivery,
        [&](const toml::node& n, std::string_view w) { return enumeration(n, w, kDeliveryNames); });
    s.nmi_source = s.delivery == Delivery::fred;
    opt(t, "nmi_source", "system", k, s.nmi_source,
        [&](const toml::node& n, std::string_view w) { return boolean(n, w); });
    opt(t, "apic", "system", k, s.apic,
        [&](const toml::node& n, std::string_view w) { return enumeration(n, w, kApicNames); });
    opt(t, "kernel", "system", k, s.kernel,
        [&](const toml::node& n, std::string_view w) { return enumeration(n, w, kKernelNames); });
    opt(t, "timing", "system", k, s.timing,
        [&](const toml::node& n, std::string_view w) -> std::optional<std::string> {
          auto name = string(n, w);
          if (!name) return std::nullopt;
          if (!TimingProfile::named(*name)) {
            // The profile's message quotes the name: quote it clipped.
            fail(locate(n), fmt::format("{}: {}", w,
                                        TimingProfile::named(input::clip(*name)).error().message));
            return std::nullopt;
          }
          return name;
        });
    opt(t, "seed", "system", k, s.seed,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 0, kMaxInt); });
    if (error_) return;
    if (const auto* n = field(t, "end", k)) {
      if (auto v = cycle(*n, "system.end")) s.end = *v;
    }
    opt(t, "frequency_mhz", "system", k, s.frequency_mhz,
        [&](const toml::node& n, std::string_view w) {
          return integer(n, w, 1, kMaxFrequencyMhz);
        });
  }

  void read_system_consistency() {
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

  void read_timing(const toml::table& t) {
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
      // core_mhz is the clock, not a cost: the range of system.frequency_mhz.
      const std::string what = fmt::format("timing.{}", k.str());
      std::optional<Cycle> c;
      if (*param == TimingParam::core_mhz) {
        if (auto mhz = integer(v, what, 1, kMaxFrequencyMhz)) c = static_cast<Cycle>(*mhz);
      } else {
        c = cost(v, what);
      }
      if (c) spec_.timing.push_back(TimingOverride{*param, *c, locate(v)});
    }
  }

  void read_kernel(const toml::table& t) {
    KernelSpec& kn = spec_.kernel;
    kn.loc = locate(t);
    check_keys(t, "in [kernel]",
               {"unknown_nmi_panic", "panic_on_unrecovered_nmi", "panic_on_io_nmi", "ignore_nmis",
                "nmi_longest_ns"});
    auto& k = kn.keys;
    auto b = [&](const toml::node& n, std::string_view w) { return boolean(n, w); };
    opt(t, "unknown_nmi_panic", "kernel", k, kn.unknown_nmi_panic, b);
    opt(t, "panic_on_unrecovered_nmi", "kernel", k, kn.panic_on_unrecovered_nmi, b);
    opt(t, "panic_on_io_nmi", "kernel", k, kn.panic_on_io_nmi, b);
    opt(t, "ignore_nmis", "kernel", k, kn.ignore_nmis,
        [&](const toml::node& n, std::string_view w) {
          return integer(n, w, 0, std::numeric_limits<std::int32_t>::max());
        });
    opt(t, "nmi_longest_ns", "kernel", k, kn.nmi_longest_ns,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 0, kMaxInt); });
  }

  void read_handler(const toml::table& t) {
    HandlerSpec h;
    h.loc = locate(t);
    check_keys(t, "in [[handler]]",
               {"name", "type", "vector", "first", "model", "check_cycles", "handle_cycles"});
    if (error_) return;
    auto& k = h.keys;
    const toml::node* name = field(t, "name", k);
    if (!name) {
      fail(h.loc, "missing required key 'name' in [[handler]]");
      return;
    }
    if (auto s = string(*name, "handler.name")) h.name = *s;
    if (error_) return;
    if (h.name.empty()) {
      fail(locate(*name), "handler.name must not be empty");
      return;
    }
    if (const HandlerSpec* other = find_handler(h.name)) {
      fail(locate(*name), fmt::format("duplicate handler name '{}' (first declared at {})",
                                      input::clip(h.name), spec_.where(other->loc)));
      return;
    }
    opt(t, "type", "handler", k, h.type, [&](const toml::node& n, std::string_view w) {
      return enumeration(n, w, kHandlerTypeNames);
    });
    opt(t, "vector", "handler", k, h.vector,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 0, kMaxVector); });
    opt(t, "first", "handler", k, h.first,
        [&](const toml::node& n, std::string_view w) { return boolean(n, w); });
    opt(t, "model", "handler", k, h.model, [&](const toml::node& n, std::string_view w) {
      return enumeration(n, w, kHandlerModelNames);
    });
    if (error_) return;
    // The kernel registers a handler of its own under some names (PMI, mce, ...):
    // one of another model there would take that sender's work.
    if (const auto owner = kernel::reserved_handler_model(h.name); owner && *owner != h.model) {
      const auto own = kernel::handler_model_name(*owner);
      fail(locate(*name),
           fmt::format("handler name '{}' is reserved: the kernel registers its own {} handler "
                       "under it for {} events; rename this {} handler, or give it "
                       "model = \"{}\" to configure the kernel's",
                       input::clip(h.name), own, own, kernel::handler_model_name(h.model), own));
      return;
    }
    if (const auto* n = field(t, "check_cycles", k)) {
      if (auto c = cost(*n, "handler.check_cycles")) h.check_cycles = *c;
    }
    if (error_) return;
    if (const auto* n = field(t, "handle_cycles", k)) {
      if (auto c = cost(*n, "handler.handle_cycles")) h.handle_cycles = *c;
    }
    handler_index_.emplace(h.name, spec_.handlers.size());
    spec_.handlers.push_back(std::move(h));
  }

  std::optional<Destination> destination(const toml::node& n, std::string_view what) {
    Destination d;
    if (const auto* s = n.as_string()) {
      if (s->get() == "self") {
        d.kind = Destination::Kind::self;
      } else if (s->get() == "all") {
        d.kind = Destination::Kind::all;
      } else if (s->get() == "all-but-self") {
        d.kind = Destination::Kind::all_but_self;
      } else {
        fail(locate(n), fmt::format("{} = \"{}\" is not one of \"self\" | \"all\" | "
                                    "\"all-but-self\", a CPU number or a list of CPU numbers",
                                    what, input::clip(s->get())));
        return std::nullopt;
      }
      return d;
    }
    d.kind = Destination::Kind::cpus;
    if (n.is_integer()) {
      auto c = cpu_number(n, what);
      if (!c) return std::nullopt;
      d.cpus.push_back(*c);
      return d;
    }
    const auto* a = n.as_array();
    if (!a) {
      fail(locate(n), fmt::format("{} must be \"self\", \"all\", \"all-but-self\", a CPU number "
                                  "or a list of CPU numbers, not {}",
                                  what, type_name(n.type())));
      return std::nullopt;
    }
    if (a->empty()) {
      fail(locate(n), fmt::format("{} must list at least one CPU", what));
      return std::nullopt;
    }
    for (const auto& e : *a) {
      auto c = cpu_number(e, what);
      if (!c) return std::nullopt;
      if (std::find(d.cpus.begin(), d.cpus.end(), *c) != d.cpus.end()) {
        fail(locate(e), fmt::format("{} lists CPU {} twice", what, *c));
        return std::nullopt;
      }
      d.cpus.push_back(*c);
    }
    std::sort(d.cpus.begin(), d.cpus.end());
    return d;
  }

  std::optional<std::vector<std::string>> work(const toml::node& n) {
    std::vector<std::string> out;
    if (n.is_string()) {
      auto h = handler_name(n, "event.work");
      if (!h) return std::nullopt;
      out.push_back(*h);
      return out;
    }
    const auto* a = n.as_array();
    if (!a) {
      fail(locate(n), fmt::format("event.work must be a handler name or a list of them, not {}",
                                  type_name(n.type())));
      return std::nullopt;
    }
    if (a->empty()) {
      fail(locate(n), "event.work must name at least one handler");
      return std::nullopt;
    }
    for (const auto& e : *a) {
      auto h = handler_name(e, "event.work");
      if (!h) return std::nullopt;
      out.push_back(*h);
    }
    return out;
  }

  /// The keys an event of each type takes, besides at and type.
  static Keys event_keys(EventType type) {
    static constexpr std::string_view ipi[] = {"at",   "type", "every",  "count", "from",
                                               "dest", "mode", "vector", "work"};
    static constexpr std::string_view pmi[] = {"at", "type", "every", "count", "cpu", "counters"};
    static constexpr std::string_view external[] = {"at",  "type",   "every", "count",
                                                    "cpu", "reason", "work"};
    static constexpr std::string_view guest[] = {"at",    "type",        "cpu",
                                                 "until", "nmi_exiting", "guest_nmi_source"};
    static constexpr std::string_view user[] = {"at", "type", "cpu", "until"};
    static constexpr std::string_view sender_dest[] = {"at",    "type", "every",
                                                       "count", "from", "dest"};
    static constexpr std::string_view sender[] = {"at", "type", "every", "count", "from"};
    switch (type) {
      case EventType::ipi:
        return ipi;
      case EventType::pmi:
        return pmi;
      case EventType::external:
        return external;
      case EventType::guest:
        return guest;
      case EventType::user:
        return user;
      case EventType::backtrace:
      case EventType::kgdb:
      case EventType::mce:
        return sender_dest;
      case EventType::stop:
      case EventType::selftest:
        return sender;
    }
    return sender;
  }

  void read_event(const toml::table& t, std::size_t index) {
    EventSpec e;
    e.loc = locate(t);
    e.file_index = index;
    auto& k = e.keys;
    e.guest_nmi_source = false;  // a model of a proposal: opt in
    const toml::node* type = field(t, "type", k);
    if (!type) {
      fail(e.loc, "missing required key 'type' in [[event]]");
      return;
    }
    if (auto ty = enumeration(*type, "event.type", kEventTypeNames)) e.type = *ty;
    if (error_) return;
    check_keys(t, fmt::format("in [[event]] of type \"{}\"", to_string(e.type)),
               event_keys(e.type));
    if (error_) return;
    const toml::node* at = field(t, "at", k);
    if (!at) {
      fail(e.loc, "missing required key 'at' in [[event]]");
      return;
    }
    if (auto c = cycle(*at, "event.at")) e.at = *c;

    auto cpu_of = [&](const toml::node& n, std::string_view w) { return cpu_number(n, w); };
    opt(t, "from", "event", k, e.from, cpu_of);
    if (error_) return;
    switch (e.type) {
      case EventType::ipi:
      case EventType::backtrace:
      case EventType::kgdb:
      case EventType::mce:
        if (const auto* n = field(t, "dest", k)) {
          if (auto d = destination(*n, "event.dest")) e.dest = std::move(*d);
        } else if (e.type == EventType::ipi) {
          fail(e.loc, "missing required key 'dest' in [[event]] of type \"ipi\"");
        }
        break;
      case EventType::stop:
      case EventType::selftest:
        break;
      case EventType::pmi:
      case EventType::guest:
      case EventType::user:
        if (!t.get("cpu")) {
          fail(e.loc, fmt::format("missing required key 'cpu' in [[event]] of type \"{}\"",
                                  to_string(e.type)));
        }
        break;
      case EventType::external:
        break;
    }
    opt(t, "cpu", "event", k, e.cpu, cpu_of);
    opt(t, "mode", "event", k, e.mode,
        [&](const toml::node& n, std::string_view w) { return enumeration(n, w, kIpiModeNames); });
    opt(t, "vector", "event", k, e.vector,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 0, kMaxVector); });
    opt(t, "counters", "event", k, e.counters,
        [&](const toml::node& n, std::string_view w) { return integer(n, w, 1, 64); });
    opt(t, "reason", "event", k, e.reason,
        [&](const toml::node& n, std::string_view w) { return enumeration(n, w, kReasonNames); });
    opt(t, "nmi_exiting", "event", k, e.nmi_exiting,
        [&](const toml::node& n, std::string_view w) { return boolean(n, w); });
    opt(t, "guest_nmi_source", "event", k, e.guest_nmi_source,
        [&](const toml::node& n, std::string_view w) { return boolean(n, w); });
    if (error_) return;
    if (const auto* n = field(t, "work", k)) {
      if (auto w = work(*n)) e.work = std::move(*w);
    }
    if (error_) return;
    if (const auto* n = field(t, "until", k)) {
      if (auto c = cycle(*n, "event.until")) {
        if (*c <= e.at) {
          fail(locate(*n), fmt::format("event.until = {} must come after at = {}", *c, e.at));
        }
        e.until = *c;
      }
    }
    if (error_) return;
    if (e.guest_nmi_source && !spec_.system.nmi_source) {
      fail(k.loc_of("guest_nmi_source", e.loc),
           "event.guest_nmi_source = true needs system.nmi_source = true (the host CPU must "
           "report NMI sources for the guest's exits to carry them)");
      return;
    }
    read_repeat(t, e);
    spec_.events.push_back(std::move(e));
  }

  void read_repeat(const toml::table& t, EventSpec& e) {
    auto& k = e.keys;
    const toml::node* every = field(t, "every", k);
    const toml::node* count = field(t, "count", k);
    if (every) {
      if (auto c = integer(*every, "event.every", 1, kMaxInt)) e.every = static_cast<Cycle>(*c);
    }
    if (count) {
      if (auto c = integer(*count, "event.count", 1, kMaxInt)) e.count = static_cast<Cycle>(*c);
    }
    if (error_) return;
    if (every && !count) {
      fail(locate(*every), "event.every needs count = N (the number of occurrences)");
      return;
    }
    if (count && !every && e.count > 1) {
      fail(locate(*count), "event.count > 1 needs every = CYCLES (the period)");
      return;
    }
    // The last occurrence, at + every * (count - 1), must not pass the end of
    // simulated time; computed with checked arithmetic, so no value wraps.
    Cycle span = 0;
    Cycle last = 0;
    const bool wraps = __builtin_mul_overflow(e.every, e.count - 1, &span) ||
                       __builtin_add_overflow(e.at, span, &last);
    if (wraps || last > static_cast<Cycle>(kMaxInt)) {
      fail(locate(*count), fmt::format("event repeats past cycle 2^63-1 (at = {}, every = {}, "
                                       "count = {})",
                                       e.at, e.every, e.count));
    } else if (last > kMaxCycle) {
      fail(locate(*count), fmt::format("event repeats past cycle 2^50, the end of simulated time "
                                       "(at = {}, every = {}, count = {}: the last occurrence "
                                       "would be at cycle {})",
                                       e.at, e.every, e.count, last));
    }
  }

  /// One CPU is in one guest or user interval at a time: a second one that
  /// starts before the first ends would enter a VM that is running (KVM prints
  /// "VM entry failed") or leave user mode early, and skew every sum after it.
  void check_intervals() {
    struct Interval {
      CpuId cpu;
      Cycle at;
      Cycle end;  // kNever: to the end of the run
      const EventSpec* e;
    };
    std::vector<Interval> all;
    for (const EventSpec& e : spec_.events) {
      if (e.type != EventType::guest && e.type != EventType::user) continue;
      // One that starts after the run's end never happens.
      if (spec_.system.end && e.at > *spec_.system.end) continue;
      all.push_back({e.cpu, e.at, e.until.value_or(kNever), &e});
    }
    std::sort(all.begin(), all.end(), [](const Interval& a, const Interval& b) {
      if (a.cpu != b.cpu) return a.cpu < b.cpu;
      return a.at != b.at ? a.at < b.at : a.e->file_index < b.e->file_index;
    });
    auto span = [](Cycle from, Cycle to) {
      return to == kNever ? fmt::format("{} to the end of the run", from)
                          : fmt::format("{}..{}", from, to);
    };
    // Against the interval that ends last so far (the later in the file among
    // those ending together): any earlier interval that overlaps this one, that
    // one does too.
    const Interval* open = nullptr;
    for (const Interval& b : all) {
      if (open && open->cpu != b.cpu) open = nullptr;
      if (open) {
        const Interval& a = *open;
        const SourceLoc& at = b.e->keys.loc_of("at", b.e->loc);
        auto first = [&] {
          return fmt::format("the \"{}\" interval at {} (cycles {})", to_string(a.e->type),
                             spec_.where(a.e->loc), span(a.at, a.end));
        };
        if (b.at < a.end) {
          fail(at, fmt::format("[[event]] of type \"{}\" on CPU {} (cycles {}) overlaps {}: "
                               "cycles {} would be in both, and a CPU is in one guest or user "
                               "interval at a time",
                               to_string(b.e->type), b.cpu, span(b.at, b.end), first(),
                               span(b.at, std::min(a.end, b.end))));
          return;
        }
        // Touching: at one cycle, events run in file order, so the end of the
        // first must come first in the file.
        if (b.at == a.end && b.e->file_index < a.e->file_index) {
          fail(at, fmt::format("[[event]] of type \"{}\" on CPU {} starts at cycle {}, where {} "
                               "ends, but comes before it in the file, so it would start "
                               "first: put it after that one",
                               to_string(b.e->type), b.cpu, b.at, first()));
          return;
        }
      }
      if (!open || b.end > open->end ||
          (b.end == open->end && b.e->file_index > open->e->file_index)) {
        open = &b;
      }
    }
  }

  void read_expect(const toml::table& t) {
    SourceLoc loc = locate(t);
    check_keys(t, "in [[expect]]",
               {"handler", "stat", "cpu", "calls", "handled", "equals", "at_least", "at_most"});
    if (error_) return;
    KeyLocations k;
    const toml::node* handler = field(t, "handler", k);
    const toml::node* stat = field(t, "stat", k);
    ExpectSpec base;
    base.loc = loc;
    if (const auto* n = field(t, "cpu", k)) {
      if (auto c = cpu_number(*n, "expect.cpu")) base.cpu = *c;
    }
    if (error_) return;
    auto count = [&](const toml::node& n, std::string_view what) -> std::optional<std::uint64_t> {
      auto v = integer(n, what, 0, kMaxInt);
      if (!v) return std::nullopt;
      return static_cast<std::uint64_t>(*v);
    };
    if (handler && stat) {
      fail(loc, "[[expect]] takes either 'handler' or 'stat', not both");
      return;
    }
    if (!handler && !stat) {
      fail(loc,
           "[[expect]] needs handler = NAME (with calls/handled) or stat = KIND (with "
           "equals/at_least/at_most)");
      return;
    }
    if (handler) {
      auto name = handler_name(*handler, "expect.handler");
      if (!name) return;
      base.handler = *name;
      for (auto key : {"equals", "at_least", "at_most"}) {
        if (const auto* n = t.get(key)) {
          fail(locate(*n), fmt::format("expect.{} goes with stat; a handler expectation takes "
                                       "calls = N and handled = N",
                                       key));
          return;
        }
      }
      bool any = false;
      for (auto [key, kind] : {std::pair{"calls", ExpectSpec::Kind::handler_calls},
                               std::pair{"handled", ExpectSpec::Kind::handler_handled}}) {
        if (const auto* n = t.get(key)) {
          auto v = count(*n, fmt::format("expect.{}", key));
          if (!v) return;
          ExpectSpec e = base;
          e.kind = kind;
          e.value = *v;
          e.loc = locate(*n);
          spec_.expects.push_back(std::move(e));
          any = true;
        }
      }
      if (!any) fail(loc, "[[expect]] for a handler needs calls = N or handled = N");
      return;
    }
    auto kind = enumeration(*stat, "expect.stat", kStatNames);
    if (!kind) return;
    base.kind = ExpectSpec::Kind::stat;
    base.stat = *kind;
    for (auto key : {"calls", "handled"}) {
      if (const auto* n = t.get(key)) {
        fail(locate(*n), fmt::format("expect.{} goes with handler; a stat expectation takes "
                                     "equals, at_least or at_most",
                                     key));
        return;
      }
    }
    bool any = false;
    for (auto [key, cmp] :
         {std::pair{"equals", Comparison::equals}, std::pair{"at_least", Comparison::at_least},
          std::pair{"at_most", Comparison::at_most}}) {
      if (const auto* n = t.get(key)) {
        auto v = count(*n, fmt::format("expect.{}", key));
        if (!v) return;
        ExpectSpec e = base;
        e.cmp = cmp;
        e.value = *v;
        e.loc = locate(*n);
        spec_.expects.push_back(std::move(e));
        any = true;
      }
    }
    if (!any) fail(loc, "[[expect]] for a stat needs equals = N, at_least = N or at_most = N");
  }

  ScenarioSpec& spec_;
  SourceLoc root_loc_;
  std::optional<Error> error_;
  std::unordered_map<std::string, std::size_t> handler_index_;  // name -> spec_.handlers
};

// --- overrides -----------------------------------------------------------------------

struct SplitOverride {
  std::vector<std::string> path;
  std::string value;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

Error set_error(std::string_view text, std::string_view what) {
  return Error{fmt::format("error: --set {}: {}", input::clip(text), what)};
}

/// A decimal integer as TOML writes one ([+-], digits, '_' between digits):
/// when toml++ refuses such a VALUE, it is beyond 64 bits.
bool decimal_integer(std::string_view v) {
  if (!v.empty() && (v.front() == '+' || v.front() == '-')) v.remove_prefix(1);
  if (v.empty() || v.front() < '0' || v.front() > '9' || v.back() == '_') return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool digit = v[i] >= '0' && v[i] <= '9';
    if (!digit && !(v[i] == '_' && v[i - 1] != '_')) return false;
  }
  return true;
}

/// toml++ says "Error while parsing key: expected ..."; the message already has
/// "error:", so this reads "TOML syntax error in key: expected ...".
std::string toml_error_text(std::string_view d) {
  constexpr std::string_view prefix = "Error while parsing ";
  if (!d.starts_with(prefix)) return "TOML syntax error: " + std::string(d);
  d.remove_prefix(prefix.size());
  return "TOML syntax error in " + std::string(d);
}

Result<SplitOverride> split_override(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return set_error(text, "expected KEY=VALUE (e.g. system.cpus=64)");
  }
  std::string_view key = trim(text.substr(0, eq));
  std::string_view value = trim(text.substr(eq + 1));
  if (key.empty()) return set_error(text, "missing KEY before '='");
  if (value.empty()) return set_error(text, "missing VALUE after '='");
  SplitOverride out;
  while (true) {
    auto dot = key.find('.');
    std::string_view part = key.substr(0, dot);
    if (part.empty()) {
      return set_error(text, "KEY must be a dotted path of names (e.g. system.cpus)");
    }
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
      if (!ok) {
        return set_error(text, fmt::format("'{}' is not a key name (letters, digits, _ and -)",
                                           input::clip(part)));
      }
    }
    out.path.emplace_back(part);
    if (dot == std::string_view::npos) break;
    // Every key of a scenario is at most three deep (event.2.at); a deeper path
    // would only build nested tables, as deep as the argument is long.
    if (out.path.size() == kMaxKeyParts) {
      return set_error(text,
                       fmt::format("KEY has more than {} parts (e.g. event.2.at)", kMaxKeyParts));
    }
    key.remove_prefix(dot + 1);
  }
  out.value = std::string(value);
  return out;
}

Status apply_override(toml::table& root, const Override& o) {
  auto split = split_override(o.text);
  if (!split) return split.error();
  const auto& path = split->path;
  const std::string source = std::string(kSetSourcePrefix) + o.text;

  // VALUE as TOML; when it is none, as a bare string (system.delivery=idt).
  toml::parse_result parsed = toml::parse("v = " + split->value, source);
  if (!parsed && decimal_integer(split->value)) {
    // Not a string that happens to be digits: a number beyond 64 bits, which
    // the key's range check reports (kSetOverflowPrefix).
    const bool negative = split->value.front() == '-';
    parsed = toml::parse(negative ? "v = -9223372036854775808" : "v = 9223372036854775807",
                         std::string(kSetOverflowPrefix) + o.text);
  }
  if (!parsed || parsed.table().size() != 1) {
    bool bare_ok = split->value.find_first_of("'\"\n\r[]{}#") == std::string::npos;
    if (!bare_ok) {
      std::string why = parsed ? std::string("more than one value")
                               : toml_error_text(parsed.error().description());
      return set_error(o.text,
                       fmt::format("'{}' is not a TOML value: {}", input::clip(split->value), why));
    }
    parsed = toml::parse("v = '" + split->value + "'", source);
    if (!parsed || parsed.table().size() != 1) {
      return set_error(o.text, fmt::format("'{}' is not a TOML value", input::clip(split->value)));
    }
  }
  toml::node* value = parsed.table().get("v");
  if (!value) return set_error(o.text, "no value");

  toml::table* cur = &root;
  std::string walked;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const std::string& part = path[i];
    walked += walked.empty() ? part : "." + part;
    toml::node* n = cur->get(part);
    if (!n) {
      cur = cur->insert_or_assign(part, toml::table{}).first->second.as_table();
      continue;
    }
    if (auto* t = n->as_table()) {
      cur = t;
      continue;
    }
    if (auto* a = n->as_array()) {
      if (i + 2 >= path.size()) {
        return set_error(o.text, fmt::format("'{}' is an array of tables: give an index and a "
                                             "key ({}.0.KEY)",
                                             input::clip(walked), input::clip(walked)));
      }
      const std::string& idx = path[++i];
      std::size_t index = 0;
      auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), index);
      if (ec != std::errc() || p != idx.data() + idx.size()) {
        return set_error(o.text,
                         fmt::format("'{}' is an array of tables: '{}' is not an index "
                                     "({}.0.KEY)",
                                     input::clip(walked), input::clip(idx), input::clip(walked)));
      }
      if (index >= a->size()) {
        return set_error(o.text, fmt::format("'{}' has {} entries, so index {} is out of range",
                                             input::clip(walked), a->size(), index));
      }
      auto* t = a->get(index)->as_table();
      if (!t) {
        return set_error(o.text, fmt::format("'{}.{}' is not a table", input::clip(walked), index));
      }
      walked += "." + idx;
      cur = t;
      continue;
    }
    return set_error(
        o.text, fmt::format("'{}' is {}, not a table", input::clip(walked), type_name(n->type())));
  }
  const std::string& last = path.back();
  if (const toml::node* existing = cur->get(last)) {
    if (existing->is_table() || existing->is_array_of_tables()) {
      std::string full = walked.empty() ? last : walked + "." + last;
      return set_error(
          o.text, fmt::format("'{}' is {}; set a key inside it ({}.KEY=VALUE)", input::clip(full),
                              type_name(existing->type()), input::clip(full)));
    }
  }
  cur->insert_or_assign(last, std::move(*value));
  return {};
}

bool bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

/// The start of the first dotted key or table name of more than
/// kMaxFileKeyParts parts, outside strings and comments. toml++ nests a table
/// per part and frees them recursively: a key of a million parts (2 MB)
/// overflowed the stack. No key of a scenario has more than three parts
/// (event.2.at), so the scan may be coarse: anything but key characters,
/// blanks, dots and quoted parts ends a chain of parts.
std::optional<SourceLoc> too_deep_key(std::string_view text) {
  std::uint32_t line = 1;
  std::size_t line_start = 0;
  std::size_t dots = 0;
  std::optional<SourceLoc> chain;  // where the current chain of parts began
  auto here = [&](std::size_t i) {
    return SourceLoc{line, static_cast<std::uint32_t>(i - line_start + 1), {}};
  };
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      // A string, perhaps a quoted part of a key: skipped whole, lines counted.
      if (!chain) chain = here(i);
      const bool triple = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      i += triple ? 3 : 1;
      while (i < n) {
        const char d = text[i];
        if (d == '\\' && c == '"') {
          if (i + 1 < n && text[i + 1] == '\n') {  // a line-ending backslash
            ++line;
            line_start = i + 2;
          }
          i += 2;
          continue;
        }
        if (d == '\n') {
          if (!triple) break;  // toml++ reports the open string
          ++line;
          line_start = i + 1;
        }
        if (d == c && !triple) {
          ++i;
          break;
        }
        if (d == c && i + 2 < n && text[i + 1] == c && text[i + 2] == c) {
          i += 3;
          break;
        }
        ++i;
      }
      continue;
    }
    if (c == '.' && chain) {
      if (++dots >= kMaxFileKeyParts) return chain;
    } else if (bare_key_char(c)) {
      if (!chain) chain = here(i);
    } else if (c != ' ' && c != '\t') {
      chain.reset();
      dots = 0;
      if (c == '#') {
        while (i < n && text[i] != '\n')
          ++i;
        continue;
      }
      if (c == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    ++i;
  }
  return std::nullopt;
}

Result<ScenarioSpec> load_impl(std::string_view text, std::string_view source_name,
                               const std::vector<Override>& overrides) {
  ScenarioSpec spec;
  spec.source_name = std::string(source_name);
  // As a cfg: the exact byte, where toml++ would name the character before it.
  if (auto bad = input::find_bad_byte(text)) {
    return spec.error_at(SourceLoc{bad->line, bad->column, {}},
                         fmt::format("{}: a scenario is UTF-8 text", bad->what));
  }
  if (auto deep = too_deep_key(text)) {
    return spec.error_at(*deep, fmt::format("a key or table name of more than {} parts (a "
                                            "scenario's have at most 3: event.2.at)",
                                            kMaxFileKeyParts));
  }
  toml::parse_result parsed = toml::parse(text, std::string(source_name));
  if (!parsed) {
    const auto& e = parsed.error();
    SourceLoc loc{e.source().begin.line, e.source().begin.column, {}};
    return spec.error_at(loc, toml_error_text(e.description()));
  }
  toml::table root = std::move(parsed).table();
  for (const auto& o : overrides) {
    if (auto st = apply_override(root, o); !st) return st.error();
  }
  Validator v(spec);
  if (auto err = v.run(root)) return *err;
  return spec;
}

}  // namespace

Status check_override_syntax(std::string_view text) {
  auto split = split_override(text);
  if (!split) return split.error();
  return {};
}

Result<ScenarioSpec> load_scenario_string(std::string_view text, std::string_view source_name,
                                          const std::vector<Override>& overrides) {
  try {
    return load_impl(text, source_name, overrides);
  } catch (const std::bad_alloc&) {
    // Not bad input: the command line reports it with its own status.
    throw input::OutOfMemory(fmt::format("out of memory while loading {}", source_name));
  } catch (const std::exception& e) {
    return Error{fmt::format("{}: error: internal error while loading: {}", source_name, e.what())};
  } catch (...) {
    return Error{fmt::format("{}: error: internal error while loading", source_name)};
  }
}

Result<ScenarioSpec> load_scenario_file(const std::string& path,
                                        const std::vector<Override>& overrides) {
  auto text = input::read_file(path);
  if (!text) return text.error();
  return load_scenario_string(*text, path, overrides);
}

}  // namespace fredsim::scenario

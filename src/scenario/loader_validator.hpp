#pragma once
// The validator: turns a parsed (and --set patched) tree into a ScenarioSpec.
// Its members are defined by concern: typed values and the top level in
// loader_validator.cpp, [system], [timing] and [kernel] in loader_system.cpp,
// [[handler]] in loader_handlers.cpp, [[event]] in loader_events.cpp, the
// guest and user intervals in loader_intervals.cpp, [[expect]] in
// loader_expects.cpp, [[vm]] in loader_vms.cpp.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fredsim/scenario/spec.hpp"
#include "fredsim/scenario/trace_counts.hpp"
#include "scenario/input.hpp"
#include "scenario/loader_toml.hpp"
#include "scenario/names.hpp"

namespace fredsim::scenario::loader {

/// Validates a parsed tree into a ScenarioSpec. Keeps the first error; after it,
/// getters return defaults and the caller stops at the next checkpoint.
class Validator {
 public:
  explicit Validator(ScenarioSpec& spec) : spec_(spec) {}

  std::optional<Error> run(const toml::table& root);

 private:
  void fail(const SourceLoc& loc, std::string what) {
    if (!error_) error_ = spec_.error_at(loc, what);
  }

  // --- structure ---------------------------------------------------------------

  /// Fails on the first key of the reader's table that it did not take (`where`
  /// places the table: "in [system]"); false then, or after any earlier error.
  bool known_keys(const TableReader& r, std::string_view where) {
    if (auto u = r.unknown_key(where)) fail(u->first, std::move(u->second));
    return !error_;
  }
  const toml::table* table(const Field& f);
  /// An inline table value, `what = { ... }`; else fails with "WHAT must be a
  /// table SHAPE, not TYPE" (SHAPE shows the keys it takes) and returns null.
  const toml::table* inline_table(const toml::node& n, std::string_view what,
                                  std::string_view shape);
  std::vector<const toml::table*> array_of_tables(const Field& f);

  // --- typed values --------------------------------------------------------------
  // Each takes the node and its name in messages ("system.cpus").

  std::optional<std::int64_t> integer(const toml::node& n, std::string_view what, std::int64_t min,
                                      std::int64_t max);
  /// A point in simulated time: 0..kMaxCycle (docs/scenarios.md "Limits").
  std::optional<Cycle> cycle(const toml::node& n, std::string_view what);
  /// A cost in cycles: 0..kMaxCost (docs/scenarios.md "Limits").
  std::optional<Cycle> cost(const toml::node& n, std::string_view what);
  std::optional<bool> boolean(const toml::node& n, std::string_view what);
  std::optional<std::string> string(const toml::node& n, std::string_view what);
  std::optional<CpuId> cpu_number(const toml::node& n, std::string_view what);
  std::optional<std::string> handler_name(const toml::node& n, std::string_view what);

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

  // The getters opt() takes, by what they read.
  auto in_range(std::int64_t min, std::int64_t max) {
    return [this, min, max](const toml::node& n, std::string_view w) {
      return integer(n, w, min, max);
    };
  }
  auto a_boolean() {
    return [this](const toml::node& n, std::string_view w) { return boolean(n, w); };
  }
  auto a_string() {
    return [this](const toml::node& n, std::string_view w) { return string(n, w); };
  }
  auto a_cycle() {
    return [this](const toml::node& n, std::string_view w) { return cycle(n, w); };
  }
  auto a_cost() {
    return [this](const toml::node& n, std::string_view w) { return cost(n, w); };
  }
  auto a_cpu() {
    return [this](const toml::node& n, std::string_view w) { return cpu_number(n, w); };
  }
  template <class E, std::size_t N>
  auto one_of(const Names<E, N>& names) {
    return [this, &names](const toml::node& n, std::string_view w) {
      return enumeration(n, w, names);
    };
  }

  /// Reads a field the table has into `out` with `get` (node and name to an
  /// optional value); nothing when it is absent or after an error.
  template <class T, class Get>
  void opt(const Field& f, T& out, Get get) {
    if (error_ || !f) return;
    if (auto v = get(*f, f.what)) out = static_cast<T>(std::move(*v));
  }

  // --- tables --------------------------------------------------------------------

  void read_top(const Field& name, const Field& description);
  void read_system(const toml::table& t);
  void read_system_consistency();
  void read_timing(const toml::table& t);
  void read_core_mhz(const toml::node& v, const std::string& what);
  void read_kernel(const toml::table& t);
  void read_vm(const toml::table& t);
  void read_vm_cpus(const toml::node& n, VmSpec& v);
  void read_handler(const toml::table& t);
  /// The [[handler.action]] tables, once every handler is known (their `work`
  /// may name any handler).
  void read_actions();
  void read_action(const toml::table& t, const HandlerSpec& h, HandlerActionSpec& a);
  void read_after(const Field& after, const Field& delay, const Field& every, EventSpec& e);
  void read_event(const toml::table& t, std::size_t index);
  void read_repeat(const Field& every, const Field& count, EventSpec& e);
  struct GuestFields {
    Field virtual_nmis, nmi_window_exiting, blocking, activity, inject;
  };

 public:
  /// The keys of an [[event]] after `at` and `type`, by type (loader_events.cpp).
  struct EventFields {
    Field every, count, from, dest, mode, vector, cpu, counters, reason, work_items, until,
        nmi_exiting, after, delay;
    GuestFields guest;
    Field blocks_nmi, vm;
  };
  static EventFields take_event_fields(TableReader& r, EventType ty);

 private:
  void read_guest_controls(const GuestFields& f, kernel::GuestControls& g);
  std::optional<Destination> destination(const toml::node& n, std::string_view what);
  std::optional<std::vector<std::string>> work(const toml::node& n, std::string_view what);
  void check_intervals();
  void read_expect(const toml::table& t);
  std::optional<std::string> expect_handler_name(const toml::node& n, std::string_view what);
  std::optional<std::vector<TraceWhere>> trace_where(const toml::node& n,
                                                     const TraceEventFields& event);

  std::string declared_handlers() const;
  /// The handler of that name in the kernel of the current scope.
  const HandlerSpec* find_handler(const std::string& name) const;
  /// `vm = NAME` of a handler, event or expectation: the VM's index.
  std::optional<std::size_t> vm_ref(const Field& f);
  /// While an element with `vm = NAME` is read, its CPU numbers are vCPUs of
  /// that VM and its handler names those of the VM's kernel; the scope ends with
  /// the element.
  class VmScope {
   public:
    VmScope(Validator& v, std::optional<std::size_t> vm) : v_(v) { v_.scope_ = vm; }
    ~VmScope() { v_.scope_.reset(); }
    VmScope(const VmScope&) = delete;
    VmScope& operator=(const VmScope&) = delete;

   private:
    Validator& v_;
  };

  ScenarioSpec& spec_;
  SourceLoc root_loc_;
  std::optional<Error> error_;
  std::optional<std::size_t> scope_;  // the VM whose element is being read
  // Per kernel (0: the host, 1 + i: VM i): name -> spec_.handlers.
  std::vector<std::unordered_map<std::string, std::size_t>> handler_index_;
  std::vector<std::pair<std::size_t, Field>> actions_;  // handler index, its `action`
  std::size_t trace_slots_ = 0;  // trace [[expect]] tables so far (ExpectSpec::trace_slot)
};

}  // namespace fredsim::scenario::loader

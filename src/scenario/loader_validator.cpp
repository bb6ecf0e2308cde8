#include "scenario/loader_validator.hpp"

#include <algorithm>

namespace fredsim::scenario::loader {

std::optional<Error> Validator::run(const toml::table& root) {
  root_loc_ = SourceLoc{1, 1, {}};
  TableReader r(root, "");
  const Field name = r.take("name");
  const Field description = r.take("description");
  const Field system = r.take("system");
  const Field timing = r.take("timing");
  const Field kernel = r.take("kernel");
  const Field vm = r.take("vm");
  const Field handler = r.take("handler");
  const Field event = r.take("event");
  const Field expect = r.take("expect");
  if (!known_keys(r, "at the top level")) return error_;
  read_top(name, description);
  if (error_) return error_;
  if (const auto* t = table(system)) read_system(*t);
  if (error_) return error_;
  read_system_consistency();
  if (error_) return error_;
  if (const auto* t = table(timing)) read_timing(*t);
  if (const auto* t = table(kernel)) read_kernel(*t);
  if (error_) return error_;
  for (const auto* t : array_of_tables(vm)) {
    read_vm(*t);
    if (error_) return error_;
  }
  handler_index_.resize(1 + spec_.vms.size());
  for (const auto* t : array_of_tables(handler)) {
    read_handler(*t);
    if (error_) return error_;
  }
  read_actions();
  if (error_) return error_;
  std::size_t index = 0;
  for (const auto* t : array_of_tables(event)) {
    read_event(*t, index++);
    if (error_) return error_;
  }
  check_intervals();
  if (error_) return error_;
  std::stable_sort(spec_.events.begin(), spec_.events.end(),
                   [](const EventSpec& a, const EventSpec& b) { return a.at < b.at; });
  for (const auto* t : array_of_tables(expect)) {
    read_expect(*t);
    if (error_) return error_;
  }
  return error_;
}

void Validator::read_top(const Field& name, const Field& description) {
  if (!name) {
    fail(root_loc_, "missing required key 'name' (the scenario's name)");
    return;
  }
  if (auto s = string(*name, name.what)) {
    if (s->empty()) fail(locate(*name), "name must not be empty");
    spec_.name = *s;
  }
  opt(description, spec_.description, a_string());
}

// --- structure ---------------------------------------------------------------------

const toml::table* Validator::table(const Field& f) {
  if (!f) return nullptr;
  if (const auto* t = f->as_table()) return t;
  fail(locate(*f),
       fmt::format("'{}' must be a table ([{}]), not {}", f.what, f.what, type_name(f->type())));
  return nullptr;
}

const toml::table* Validator::inline_table(const toml::node& n, std::string_view what,
                                           std::string_view shape) {
  if (const auto* t = n.as_table()) return t;
  fail(locate(n), fmt::format("{} must be a table {}, not {}", what, shape, type_name(n.type())));
  return nullptr;
}

std::vector<const toml::table*> Validator::array_of_tables(const Field& f) {
  std::vector<const toml::table*> out;
  if (!f || error_) return out;
  const auto* a = f->as_array();
  if (!a) {
    fail(locate(*f), fmt::format("'{}' must be an array of tables ([[{}]]), not {}", f.what, f.what,
                                 type_name(f->type())));
    return out;
  }
  for (const auto& e : *a) {
    const auto* t = e.as_table();
    if (!t) {
      fail(locate(e), fmt::format("each '{}' must be a table ([[{}]]), not {}", f.what, f.what,
                                  type_name(e.type())));
      return {};
    }
    out.push_back(t);
  }
  return out;
}

// --- typed values ------------------------------------------------------------------

std::optional<std::int64_t> Validator::integer(const toml::node& n, std::string_view what,
                                               std::int64_t min, std::int64_t max) {
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

std::optional<Cycle> Validator::cycle(const toml::node& n, std::string_view what) {
  auto x = integer(n, what, 0, kMaxTime);
  if (!x) return std::nullopt;
  return static_cast<Cycle>(*x);
}

std::optional<Cycle> Validator::cost(const toml::node& n, std::string_view what) {
  auto x = integer(n, what, 0, kMaxCostCycles);
  if (!x) return std::nullopt;
  return static_cast<Cycle>(*x);
}

std::optional<bool> Validator::boolean(const toml::node& n, std::string_view what) {
  if (const auto* v = n.as_boolean()) return v->get();
  fail(locate(n), fmt::format("{} must be true or false, not {}", what, type_name(n.type())));
  return std::nullopt;
}

std::optional<std::string> Validator::string(const toml::node& n, std::string_view what) {
  if (const auto* v = n.as_string()) return v->get();
  fail(locate(n), fmt::format("{} must be a string, not {}", what, type_name(n.type())));
  return std::nullopt;
}

std::optional<CpuId> Validator::cpu_number(const toml::node& n, std::string_view what) {
  const auto* v = n.as_integer();
  if (!v) {
    fail(locate(n), fmt::format("{} must be a CPU number, not {}", what, type_name(n.type())));
    return std::nullopt;
  }
  std::int64_t x = v->get();
  const auto big = overflowed_text(n);
  if (scope_) {
    // A vCPU of the VM in scope.
    const VmSpec& vm = spec_.vms[*scope_];
    const auto vcpus = static_cast<std::int64_t>(vm.cpus.size());
    if (big || x < 0 || x >= vcpus) {
      fail(locate(n), fmt::format("{} = {} is not a vCPU of VM '{}' (it has {}: 0..{})", what,
                                  big ? input::clip(*big) : std::to_string(x), input::clip(vm.name),
                                  vcpus, vcpus - 1));
      return std::nullopt;
    }
    return static_cast<CpuId>(x);
  }
  std::uint32_t cpus = spec_.system.cpus;
  if (big || x < 0 || x >= static_cast<std::int64_t>(cpus)) {
    fail(locate(n), fmt::format("{} = {} is not a CPU of this system (cpus = {}: 0..{})", what,
                                big ? input::clip(*big) : std::to_string(x), cpus, cpus - 1));
    return std::nullopt;
  }
  return static_cast<CpuId>(x);
}

}  // namespace fredsim::scenario::loader

// [[expect]]: the checks made after the run: a handler's counts, a stat or any
// per-CPU counter of the result, console lines, the panic, trace records.
#include <algorithm>
#include <array>
#include <initializer_list>
#include <regex>
#include <tuple>
#include <utility>

#include "fredsim/kernel/handler_model.hpp"
#include "fredsim/scenario/result.hpp"
#include "scenario/console_pattern.hpp"
#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {
namespace {

/// The longest `console` pattern: std::regex compiles (and matches) recursively,
/// so a pattern is kept far from what could exhaust the stack.
constexpr std::size_t kMaxPattern = 1024;

/// "\"a\" | \"b\" | ...": the names a message offers.
template <class Range, class Name>
std::string quoted(const Range& items, Name name) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += " | ";
    out += fmt::format("\"{}\"", name(i));
  }
  return out;
}

/// A "0x..." string as a number (1 to 16 hex digits), else none.
std::optional<std::uint64_t> hex_string(std::string_view s) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return {};
  std::uint64_t v = 0;
  for (char c : s.substr(2)) {
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return {};
    }
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace

/// A handler of the file, or one the kernel registers itself (nmi_selftest,
/// smp_stop, ...): an expectation may count the calls of either.
std::optional<std::string> Validator::expect_handler_name(const toml::node& n,
                                                          std::string_view what) {
  auto s = string(n, what);
  if (!s) return std::nullopt;
  if (find_handler(*s) || kernel::reserved_handler_model(*s)) return s;
  std::string own;
  for (std::string_view r : kernel::reserved_handler_names())
    own += (own.empty() ? "" : ", ") + std::string(r);
  fail(locate(n), fmt::format("{} names no handler '{}' ({}; registered by the kernel: {})", what,
                              input::clip(*s), declared_handlers(), own));
  return std::nullopt;
}

/// `where = { field = value, ... }` of a trace expectation, in file order.
std::optional<std::vector<TraceWhere>> Validator::trace_where(const toml::node& n,
                                                              const TraceEventFields& event) {
  const toml::table* t = inline_table(n, "expect.where", "({ field = value, ... })");
  if (!t) return std::nullopt;
  std::vector<TraceWhere> out;
  for (auto&& [key, value] : *t) {
    TraceWhere w;
    w.field = std::string(key.str());
    w.loc = locate_key(key, value);
    const std::string what = "expect.where." + input::clip(w.field);
    const bool known = w.field == "cpu" || std::find(event.fields.begin(), event.fields.end(),
                                                     w.field) != event.fields.end();
    if (!known) {
      std::string fields = "cpu";
      for (std::string_view f : event.fields)
        fields += ", " + std::string(f);
      fail(w.loc, fmt::format("{}: {} records have no field '{}' (fields: {})", what, event.event,
                              input::clip(w.field), fields));
      return std::nullopt;
    }
    if (w.field == "cpu") {
      auto c = cpu_number(value, what);
      if (!c) return std::nullopt;
      w.number = *c;
    } else if (value.is_integer()) {
      auto v = integer(value, what, 0, kMaxInt);
      if (!v) return std::nullopt;
      w.number = static_cast<std::uint64_t>(*v);
    } else if (const auto* s = value.as_string()) {
      w.text = s->get();
      w.number = hex_string(*w.text);
    } else if (const auto* b = value.as_boolean()) {
      w.boolean = b->get();
    } else if (const auto* a = value.as_array()) {
      std::vector<std::uint64_t> list;
      for (const auto& e : *a) {
        auto v = integer(e, what, 0, kMaxInt);
        if (!v) return std::nullopt;
        list.push_back(static_cast<std::uint64_t>(*v));
      }
      std::sort(list.begin(), list.end());
      w.list = std::move(list);
    } else {
      fail(locate(value), fmt::format("{} must be an integer, a \"0x..\" hex string, a string, "
                                      "true or false, or a list of integers, not {}",
                                      what, type_name(value.type())));
      return std::nullopt;
    }
    out.push_back(std::move(w));
  }
  // toml++ keeps a table's keys sorted: give them back in the file's order,
  // those a --set gave after the file's.
  auto place = [](const TraceWhere& w) {
    return std::tuple(!w.loc.set_arg.empty(), w.loc.line, w.loc.column);
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const TraceWhere& a, const TraceWhere& b) { return place(a) < place(b); });
  return out;
}

void Validator::read_expect(const toml::table& t) {
  SourceLoc loc = locate(t);
  KeyLocations k;  // an expectation keeps the place of each value instead
  TableReader r(t, "expect", &k);
  const Field handler = r.take("handler");
  const Field stat = r.take("stat");
  const Field counter = r.take("counter");
  const Field console = r.take("console");
  const Field panic = r.take("panic");
  const Field trace = r.take("trace");
  const Field where = r.take("where");
  const Field cpu = r.take("cpu");
  const Field calls = r.take("calls");
  const Field handled = r.take("handled");
  const Field equals = r.take("equals");
  const Field count = r.take("count");
  const Field at_least = r.take("at_least");
  const Field at_most = r.take("at_most");
  const Field vm = r.take("vm");
  if (!known_keys(r, "in [[expect]]")) return;

  // Exactly one of the forms.
  const Field* form = nullptr;
  for (const Field* f : {&handler, &stat, &counter, &console, &panic, &trace}) {
    if (!*f) continue;
    if (form) {
      fail(loc, fmt::format("[[expect]] takes one of 'handler', 'stat', 'counter', 'console', "
                            "'panic', 'trace': not both '{}' and '{}'",
                            form->what.substr(form->what.find('.') + 1),
                            f->what.substr(f->what.find('.') + 1)));
      return;
    }
    form = f;
  }
  if (!form) {
    fail(loc,
         "[[expect]] needs handler = NAME (with calls/handled), stat = KIND or counter = NAME "
         "(with equals/at_least/at_most), console = REGEX or trace = EVENT (with "
         "count/at_least/at_most), or panic = true|false");
    return;
  }

  // The keys that go with other forms. `takes` ends the message: what this form takes.
  auto misplaced = [&](std::initializer_list<const Field*> fields, std::string_view takes) {
    for (const Field* f : fields) {
      if (!*f) continue;
      std::string_view key = std::string_view(f->what).substr(f->what.find('.') + 1);
      std::string_view owner = key == "calls" || key == "handled" ? "handler"
                               : key == "equals"                  ? "stat and counter"
                               : key == "count"                   ? "console and trace"
                               : key == "where"                   ? "trace"
                               : key == "cpu" ? "handler, stat, counter and console"
                                              : "stat, counter, console and trace";
      fail(locate(**f), fmt::format("{} goes with {}; {}", f->what, owner, takes));
      return true;
    }
    return false;
  };
  ExpectSpec base;
  base.loc = loc;
  base.vm = vm_ref(vm);
  if (error_) return;
  if (base.vm && form == &trace) {
    // A trace expectation counts the records of every CPU; it selects a
    // guest's with where = { vm = NAME }.
    fail(locate(*vm), fmt::format("expect.vm goes with handler, stat, counter, console and "
                                  "panic expectations; not with {} (select a guest's records "
                                  "with where = {{ vm = NAME }})",
                                  form->what.substr(form->what.find('.') + 1)));
    return;
  }
  const VmScope scope(*this, base.vm);
  if (form == &handler) {
    if (misplaced({&equals, &count, &at_least, &at_most, &where},
                  "a handler expectation takes calls = N and handled = N")) {
      return;
    }
  } else if (form == &stat || form == &counter) {
    if (misplaced({&calls, &handled, &count, &where},
                  fmt::format("a {} expectation takes equals, at_least or at_most",
                              form == &stat ? "stat" : "counter"))) {
      return;
    }
  } else if (form == &console) {
    if (misplaced({&calls, &handled, &equals, &where},
                  "a console expectation takes count, at_least or at_most")) {
      return;
    }
  } else if (form == &trace) {
    if (cpu) {
      fail(locate(*cpu),
           "expect.cpu goes with handler, stat, counter and console; a trace expectation names "
           "the record's CPU in where = { cpu = N }");
      return;
    }
    if (misplaced({&calls, &handled, &equals},
                  "a trace expectation takes where = { field = value, ... } and count, at_least "
                  "or at_most")) {
      return;
    }
  } else {
    if (misplaced({&cpu, &calls, &handled, &equals, &count, &at_least, &at_most, &where},
                  "a panic expectation takes only panic = true or false")) {
      return;
    }
  }
  opt(cpu, base.cpu, a_cpu());
  if (error_) return;

  // Each value given makes one expectation, placed at that value.
  bool any = false;
  auto add = [&](const Field& f, Comparison cmp) {
    if (!f || error_) return;
    auto v = integer(*f, f.what, 0, kMaxInt);
    if (!v) return;
    ExpectSpec e = base;
    e.cmp = cmp;
    e.value = static_cast<std::uint64_t>(*v);
    e.loc = locate(*f);
    spec_.expects.push_back(std::move(e));
    any = true;
  };
  auto add_bounds = [&](const Field& exact) {
    add(exact, Comparison::equals);
    add(at_least, Comparison::at_least);
    add(at_most, Comparison::at_most);
  };

  if (form == &handler) {
    auto name = expect_handler_name(*handler, handler.what);
    if (!name) return;
    base.handler = *name;
    base.kind = ExpectSpec::Kind::handler_calls;
    add(calls, Comparison::equals);
    base.kind = ExpectSpec::Kind::handler_handled;
    add(handled, Comparison::equals);
    if (error_) return;
    if (!any) fail(loc, "[[expect]] for a handler needs calls = N or handled = N");
    return;
  }
  if (form == &stat) {
    auto kind = enumeration(*stat, stat.what, kStatNames);
    if (!kind) return;
    base.kind = ExpectSpec::Kind::stat;
    base.stat = *kind;
    add_bounds(equals);
    if (error_) return;
    if (!any) fail(loc, "[[expect]] for a stat needs equals = N, at_least = N or at_most = N");
    return;
  }
  if (form == &counter) {
    auto name = string(*counter, counter.what);
    if (!name) return;
    if (base.vm) {
      // A VM's counters are its vCPUs' (docs/format.md "Per VM").
      if (!find_vcpu_counter(*name)) {
        fail(locate(*counter),
             fmt::format("{} = \"{}\" is not a per-vCPU counter of a VM's result (one of {})",
                         counter.what, input::clip(*name),
                         quoted(vcpu_counters(), [](const VcpuCounter& c) { return c.name; })));
        return;
      }
    } else if (!find_cpu_counter(*name)) {
      fail(locate(*counter),
           fmt::format("{} = \"{}\" is not a per-CPU counter of the result (one of {})",
                       counter.what, input::clip(*name),
                       quoted(cpu_counters(), [](const CpuCounter& c) { return c.name; })));
      return;
    }
    base.kind = ExpectSpec::Kind::counter;
    base.counter = *name;
    add_bounds(equals);
    if (error_) return;
    if (!any) fail(loc, "[[expect]] for a counter needs equals = N, at_least = N or at_most = N");
    return;
  }
  if (form == &panic) {
    auto b = boolean(*panic, panic.what);
    if (!b) return;
    base.kind = ExpectSpec::Kind::panic;
    base.value = *b ? 1 : 0;
    base.loc = locate(*panic);
    spec_.expects.push_back(std::move(base));
    return;
  }
  if (form == &console) {
    auto pattern = string(*console, console.what);
    if (!pattern) return;
    if (pattern->size() > kMaxPattern) {
      fail(locate(*console), fmt::format("{} is {} characters long; a pattern has at most {}",
                                         console.what, pattern->size(), kMaxPattern));
      return;
    }
    try {
      base.regex = std::make_shared<const ConsolePattern>(
          ConsolePattern{std::regex(*pattern, std::regex::ECMAScript)});
    } catch (const std::regex_error& e) {
      fail(locate(*console), fmt::format("{} = \"{}\" is not a regular expression (ECMAScript): {}",
                                         console.what, input::clip(*pattern), e.what()));
      return;
    }
    base.kind = ExpectSpec::Kind::console;
    base.pattern = *pattern;
  } else {
    auto event = string(*trace, trace.what);
    if (!event) return;
    const TraceEventFields* fields = find_trace_event(*event);
    if (!fields) {
      fail(locate(*trace), fmt::format("{} = \"{}\" is not a trace record type (one of {})",
                                       trace.what, input::clip(*event),
                                       quoted(trace_event_fields(),
                                              [](const TraceEventFields& f) { return f.event; })));
      return;
    }
    base.kind = ExpectSpec::Kind::trace;
    base.trace_event = *event;
    if (where) {
      auto w = trace_where(*where, *fields);
      if (!w) return;
      base.where = std::move(*w);
    }
    base.trace_slot = trace_slots_++;
  }
  // console and trace: a count, or bounds; none of them, at least one.
  add_bounds(count);
  if (error_ || any) return;
  base.cmp = Comparison::at_least;
  base.value = 1;
  spec_.expects.push_back(std::move(base));
}

}  // namespace fredsim::scenario::loader

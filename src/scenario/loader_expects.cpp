// [[expect]]: the checks of a handler's counts or of a stat after the run.
#include <initializer_list>
#include <utility>

#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

void Validator::read_expect(const toml::table& t) {
  SourceLoc loc = locate(t);
  KeyLocations k;  // an expectation keeps the place of each value instead
  TableReader r(t, "expect", &k);
  const Field handler = r.take("handler");
  const Field stat = r.take("stat");
  const Field cpu = r.take("cpu");
  const Field calls = r.take("calls");
  const Field handled = r.take("handled");
  const Field equals = r.take("equals");
  const Field at_least = r.take("at_least");
  const Field at_most = r.take("at_most");
  if (!known_keys(r, "in [[expect]]")) return;
  ExpectSpec base;
  base.loc = loc;
  opt(cpu, base.cpu, a_cpu());
  if (error_) return;
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
  // Each value given makes one expectation, placed at that value.
  bool any = false;
  auto add = [&](const Field& f, auto set) {
    if (!f || error_) return;
    auto v = integer(*f, f.what, 0, kMaxInt);
    if (!v) return;
    ExpectSpec e = base;
    set(e);
    e.value = static_cast<std::uint64_t>(*v);
    e.loc = locate(*f);
    spec_.expects.push_back(std::move(e));
    any = true;
  };
  // The values that go with the other form.
  auto misplaced = [&](std::initializer_list<const Field*> fields, std::string_view takes) {
    for (const Field* f : fields) {
      if (*f) {
        fail(locate(**f), fmt::format("{} goes with {}", f->what, takes));
        return true;
      }
    }
    return false;
  };
  if (handler) {
    auto name = handler_name(*handler, handler.what);
    if (!name) return;
    base.handler = *name;
    if (misplaced({&equals, &at_least, &at_most},
                  "stat; a handler expectation takes calls = N and handled = N")) {
      return;
    }
    add(calls, [](ExpectSpec& e) { e.kind = ExpectSpec::Kind::handler_calls; });
    add(handled, [](ExpectSpec& e) { e.kind = ExpectSpec::Kind::handler_handled; });
    if (error_) return;
    if (!any) fail(loc, "[[expect]] for a handler needs calls = N or handled = N");
    return;
  }
  auto kind = enumeration(*stat, stat.what, kStatNames);
  if (!kind) return;
  base.kind = ExpectSpec::Kind::stat;
  base.stat = *kind;
  if (misplaced({&calls, &handled},
                "handler; a stat expectation takes equals, at_least or at_most")) {
    return;
  }
  add(equals, [](ExpectSpec& e) { e.cmp = Comparison::equals; });
  add(at_least, [](ExpectSpec& e) { e.cmp = Comparison::at_least; });
  add(at_most, [](ExpectSpec& e) { e.cmp = Comparison::at_most; });
  if (error_) return;
  if (!any) fail(loc, "[[expect]] for a stat needs equals = N, at_least = N or at_most = N");
}

}  // namespace fredsim::scenario::loader

// [[handler]]: the NMI handlers a scenario registers, and the handler names
// other tables give.
#include "fredsim/kernel/handler_model.hpp"
#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

void Validator::read_handler(const toml::table& t) {
  HandlerSpec h;
  h.loc = locate(t);
  TableReader r(t, "handler", &h.keys);
  const Field name = r.take("name");
  const Field vm = r.take("vm");
  const Field type = r.take("type");
  const Field vector = r.take("vector");
  const Field first = r.take("first");
  const Field model = r.take("model");
  const Field check_cycles = r.take("check_cycles");
  const Field handle_cycles = r.take("handle_cycles");
  const Field action = r.take("action");
  if (!known_keys(r, "in [[handler]]")) return;
  h.vm = vm_ref(vm);
  if (error_) return;
  const VmScope scope(*this, h.vm);
  if (!name) {
    fail(h.loc, "missing required key 'name' in [[handler]]");
    return;
  }
  opt(name, h.name, a_string());
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
  opt(type, h.type, one_of(kNmiTypeNames));
  opt(vector, h.vector, in_range(0, kMaxVector));
  opt(first, h.first, a_boolean());
  opt(model, h.model, one_of(kHandlerModelNames));
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
  opt(check_cycles, h.check_cycles, a_cost());
  opt(handle_cycles, h.handle_cycles, a_cost());
  if (action) actions_.emplace_back(spec_.handlers.size(), action);
  handler_index_[h.vm ? 1 + *h.vm : 0].emplace(h.name, spec_.handlers.size());
  spec_.handlers.push_back(std::move(h));
}

// --- [[handler.action]] (docs/scenarios.md "Handler actions and rendezvous") ---------------

void Validator::read_actions() {
  for (const auto& [index, field] : actions_) {
    const auto tables = array_of_tables(field);
    if (error_) return;
    if (tables.size() > kMaxHandlerActions) {
      fail(locate(*tables[kMaxHandlerActions]),
           fmt::format("handler '{}' has more than {} [[handler.action]] tables",
                       input::clip(spec_.handlers[index].name), kMaxHandlerActions));
      return;
    }
    // A guest handler's actions send to its VM's vCPUs and name its handlers.
    const VmScope scope(*this, spec_.handlers[index].vm);
    for (const auto* t : tables) {
      HandlerActionSpec a;
      read_action(*t, spec_.handlers[index], a);
      if (error_) return;
      spec_.handlers[index].actions.push_back(std::move(a));
    }
  }
}

void Validator::read_action(const toml::table& t, const HandlerSpec& h, HandlerActionSpec& a) {
  a.loc = locate(t);
  TableReader r(t, "handler.action", &a.keys);
  const Field on_call = r.take("on_call");
  const Field every = r.take("every");
  const Field cpu = r.take("cpu");
  const Field send = r.take("send");
  if (!known_keys(r, "in [[handler.action]]")) return;
  if (!send) {
    fail(a.loc, fmt::format("missing required key 'send' in [[handler.action]] of handler '{}' "
                            "(the ICR writes the handler makes)",
                            input::clip(h.name)));
    return;
  }
  opt(on_call, a.on_call, in_range(1, kMaxInt));
  opt(every, a.every, in_range(1, kMaxInt));
  opt(cpu, a.cpu, a_cpu());
  if (error_) return;
  if (every && !on_call) {
    fail(locate(*every), "handler.action.every needs on_call = N (the first call it acts on)");
    return;
  }
  const toml::table* st = inline_table(*send, "handler.action.send",
                                       "{ dest = ..., mode = ..., vector = ..., count = ... }");
  if (!st) return;
  // The keys of an "ipi" event's ICR write, read the same way.
  TableReader sr(*st, "handler.action.send");
  const Field dest = sr.take("dest");
  const Field mode = sr.take("mode");
  const Field vector = sr.take("vector");
  const Field count = sr.take("count");
  const Field work_items = sr.take("work");
  if (!known_keys(sr, "in handler.action.send")) return;
  if (!dest) {
    fail(locate(*send), "missing required key 'dest' in handler.action.send");
    return;
  }
  if (auto d = destination(*dest, dest.what)) a.dest = std::move(*d);
  opt(mode, a.mode, one_of(kIpiModeNames));
  opt(vector, a.vector, in_range(0, kMaxVector));
  opt(count, a.count, in_range(1, kMaxSendCount));
  opt(work_items, a.work, [this](const toml::node& n, std::string_view w) { return work(n, w); });
}

/// "declared: a, b, c": the first few names, so a file of 100,000 handlers
/// does not make a message of them all.
std::string Validator::declared_handlers() const {
  constexpr std::size_t kListed = 8;
  std::string out;
  std::size_t n = 0;
  for (const HandlerSpec& h : spec_.handlers) {
    if (h.vm != scope_) continue;  // another kernel's
    if (n < kListed) out += (n ? ", " : "") + input::clip(h.name);
    ++n;
  }
  const std::string in_vm =
      scope_ ? fmt::format(" in VM '{}'", input::clip(spec_.vms[*scope_].name)) : "";
  if (n == 0) return fmt::format("no handler is declared{}", in_vm);
  if (n > kListed) out += fmt::format(", ... ({} in all)", n);
  return fmt::format("declared{}: {}", in_vm, out);
}

/// The declared handler of that name: a hash look-up, so naming handlers costs
/// the same in a file of ten handlers and of a million.
const HandlerSpec* Validator::find_handler(const std::string& name) const {
  const auto& index = handler_index_[scope_ ? 1 + *scope_ : 0];
  const auto it = index.find(name);
  return it == index.end() ? nullptr : &spec_.handlers[it->second];
}

std::optional<std::size_t> Validator::vm_ref(const Field& f) {
  if (!f || error_) return std::nullopt;
  auto s = string(*f, f.what);
  if (!s) return std::nullopt;
  for (std::size_t i = 0; i < spec_.vms.size(); ++i) {
    if (spec_.vms[i].name == *s) return i;
  }
  std::string names;
  for (std::size_t i = 0; i < spec_.vms.size() && i < 8; ++i)
    names += (i ? ", " : "") + input::clip(spec_.vms[i].name);
  if (spec_.vms.size() > 8) names += fmt::format(", ... ({} in all)", spec_.vms.size());
  fail(locate(*f), fmt::format("{} names no VM '{}' ({})", f.what, input::clip(*s),
                               spec_.vms.empty() ? "no [[vm]] is declared" : "declared: " + names));
  return std::nullopt;
}

std::optional<std::string> Validator::handler_name(const toml::node& n, std::string_view what) {
  auto s = string(n, what);
  if (!s) return std::nullopt;
  if (!find_handler(*s)) {
    fail(locate(n),
         fmt::format("{} names no handler '{}' ({})", what, input::clip(*s), declared_handlers()));
    return std::nullopt;
  }
  return s;
}

}  // namespace fredsim::scenario::loader

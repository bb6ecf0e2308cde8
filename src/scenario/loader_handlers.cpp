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
  const Field type = r.take("type");
  const Field vector = r.take("vector");
  const Field first = r.take("first");
  const Field model = r.take("model");
  const Field check_cycles = r.take("check_cycles");
  const Field handle_cycles = r.take("handle_cycles");
  if (!known_keys(r, "in [[handler]]")) return;
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
  handler_index_.emplace(h.name, spec_.handlers.size());
  spec_.handlers.push_back(std::move(h));
}

/// "declared: a, b, c": the first few names, so a file of 100,000 handlers
/// does not make a message of them all.
std::string Validator::declared_handlers() const {
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
const HandlerSpec* Validator::find_handler(const std::string& name) const {
  const auto it = handler_index_.find(name);
  return it == handler_index_.end() ? nullptr : &spec_.handlers[it->second];
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

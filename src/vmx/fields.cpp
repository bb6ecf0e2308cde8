#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

std::string_view field_name(std::uint32_t encoding) {
  const FieldEncoding e{encoding};
  if (!e.well_formed()) return {};
  const auto slot = field_slot(e.full());
  return slot ? detail::kFields[*slot].name : std::string_view{};
}

}  // namespace fredsim::vmx

#include "fredsim/kernel/nmi.hpp"

#include "fredsim/kernel/kernel.hpp"

namespace fredsim::kernel {
namespace {
constexpr std::string_view kTypeNames[] = {"local", "unknown", "serr", "io_check"};
constexpr std::string_view kModelNames[] = {"custom", "device",    "ghes", "pmi", "selftest",
                                            "stop",   "backtrace", "kgdb", "mce"};
}  // namespace

std::string_view nmi_type_name(NmiType t) {
  return kTypeNames[static_cast<int>(t)];
}

bool parse_nmi_type(std::string_view text, NmiType& out) {
  for (std::size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i] == text) {
      out = static_cast<NmiType>(i);
      return true;
    }
  }
  return false;
}

std::string_view revision_name(Revision r) {
  return r == Revision::v7 ? "v7" : "v5";
}

std::string_view handler_model_name(HandlerModel m) {
  return kModelNames[static_cast<int>(m)];
}

bool parse_handler_model(std::string_view text, HandlerModel& out) {
  for (std::size_t i = 1; i < std::size(kModelNames); ++i) {  // "custom" is not a file value
    if (kModelNames[i] == text) {
      out = static_cast<HandlerModel>(i);
      return true;
    }
  }
  return false;
}

}  // namespace fredsim::kernel

#pragma once
// The file's spelling of each enum value, in one place for the loader (parsing,
// "allowed:" lists) and for to_string().
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fredsim/scenario/spec.hpp"

namespace fredsim::scenario {

template <class E, std::size_t N>
using Names = std::array<std::pair<std::string_view, E>, N>;

inline constexpr Names<Delivery, 2> kDeliveryNames{
    {{"fred", Delivery::fred}, {"idt", Delivery::idt}}};
// The modes a system starts in: a disabled APIC is no configuration of a file.
inline constexpr Names<apic::ApicMode, 2> kApicNames{
    {{"xapic", apic::ApicMode::xapic}, {"x2apic", apic::ApicMode::x2apic}}};
inline constexpr Names<kernel::Revision, 2> kKernelNames{
    {{"v7", kernel::Revision::v7}, {"v5", kernel::Revision::v5}}};
inline constexpr Names<kernel::NmiType, 4> kNmiTypeNames{{{"local", kernel::NmiType::local},
                                                          {"unknown", kernel::NmiType::unknown},
                                                          {"serr", kernel::NmiType::serr},
                                                          {"io_check", kernel::NmiType::io_check}}};
// The models a file names, in the order messages list them (custom, a user's own
// callable, has no file spelling).
inline constexpr Names<kernel::HandlerModel, 8> kHandlerModelNames{
    {{"device", kernel::HandlerModel::device},
     {"pmi", kernel::HandlerModel::pmi},
     {"selftest", kernel::HandlerModel::selftest},
     {"stop", kernel::HandlerModel::stop},
     {"backtrace", kernel::HandlerModel::backtrace},
     {"kgdb", kernel::HandlerModel::kgdb},
     {"mce", kernel::HandlerModel::mce},
     {"ghes", kernel::HandlerModel::ghes}}};
inline constexpr Names<EventType, 14> kEventTypeNames{{{"ipi", EventType::ipi},
                                                       {"pmi", EventType::pmi},
                                                       {"external", EventType::external},
                                                       {"guest", EventType::guest},
                                                       {"user", EventType::user},
                                                       {"backtrace", EventType::backtrace},
                                                       {"stop", EventType::stop},
                                                       {"selftest", EventType::selftest},
                                                       {"kgdb", EventType::kgdb},
                                                       {"mce", EventType::mce},
                                                       {"sti", EventType::sti},
                                                       {"mov_ss", EventType::mov_ss},
                                                       {"irqs_off", EventType::irqs_off},
                                                       {"kvm_nmi", EventType::kvm_nmi}}};
inline constexpr Names<apic::DeliveryMode, 5> kIpiModeNames{
    {{"nmi", apic::DeliveryMode::nmi},
     {"fixed", apic::DeliveryMode::fixed},
     {"init", apic::DeliveryMode::init},
     {"startup", apic::DeliveryMode::startup},
     {"smi", apic::DeliveryMode::smi}}};
inline constexpr Names<machine::NmiReason, 2> kReasonNames{
    {{"serr", machine::NmiReason::serr}, {"iochk", machine::NmiReason::iochk}}};
inline constexpr Names<StatKind, 5> kStatNames{{{"normal", StatKind::normal},
                                                {"unknown", StatKind::unknown},
                                                {"external", StatKind::external},
                                                {"swallow", StatKind::swallow},
                                                {"lost", StatKind::lost}}};

template <class E, std::size_t N>
constexpr std::string_view name_of(const Names<E, N>& names, E v) {
  for (const auto& [n, e] : names) {
    if (e == v) return n;
  }
  return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_of(const Names<E, N>& names, std::string_view s) {
  for (const auto& [n, e] : names) {
    if (n == s) return e;
  }
  return std::nullopt;
}

/// "\"fred\" | \"idt\""
template <class E, std::size_t N>
std::string quoted_names(const Names<E, N>& names) {
  std::string out;
  for (const auto& [n, e] : names) {
    if (!out.empty()) out += " | ";
    out += '"';
    out += n;
    out += '"';
  }
  return out;
}

}  // namespace fredsim::scenario

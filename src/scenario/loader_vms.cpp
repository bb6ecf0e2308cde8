// [[vm]]: virtual machines with a kernel of their own (docs/scenarios.md
// "Virtual machines with a kernel of their own"). A VM's vCPU i runs on host CPU
// cpus[i] from `at` to `until`; its guest kernel has the VM's own delivery,
// nmi_source, kernel revision and APIC mode.
#include "fredsim/apic/constants.hpp"
#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

void Validator::read_vm(const toml::table& t) {
  VmSpec v;
  v.loc = locate(t);
  TableReader r(t, "vm", &v.keys);
  const Field name = r.take("name");
  const Field cpus = r.take("cpus");
  const Field at = r.take("at");
  const Field until = r.take("until");
  const Field delivery = r.take("delivery");
  const Field nmi_source = r.take("nmi_source");
  const Field kernel = r.take("kernel");
  const Field apic = r.take("apic");
  const Field nmi_exiting = r.take("nmi_exiting");
  const Field virtual_nmis = r.take("virtual_nmis");
  const Field unknown_nmi_panic = r.take("unknown_nmi_panic");
  const Field nmi_longest_ns = r.take("nmi_longest_ns");
  // The host's [kernel] keys a guest does not take: refused by name, before the
  // unknown-key check, and left out of its list of allowed keys.
  for (std::string_view key : {"panic_on_unrecovered_nmi", "panic_on_io_nmi"}) {
    if (const toml::node* n = t.get(key)) {
      fail(locate(*n),
           fmt::format("vm.{} has no effect in a guest: KVM raises no SERR or IOCHK NMI in it "
                       "(its port 0x61 reports neither), so only the host's [kernel] takes it",
                       key));
      return;
    }
  }
  for (std::string_view key : {"ignore_nmis", "source_vectors"}) {
    if (const toml::node* n = t.get(key)) {
      fail(locate(*n),
           fmt::format("vm.{} is the host's [kernel] key; a [[vm]]'s guest kernel takes "
                       "unknown_nmi_panic and nmi_longest_ns{}",
                       key,
                       key == "source_vectors"
                           ? " (the guest runs the host's kernel build: its source_vectors)"
                           : ""));
      return;
    }
  }
  if (!known_keys(r, "in [[vm]]")) return;
  if (!name) {
    fail(v.loc, "missing required key 'name' in [[vm]]");
    return;
  }
  opt(name, v.name, a_string());
  if (error_) return;
  if (v.name.empty()) {
    fail(locate(*name), "vm.name must not be empty");
    return;
  }
  if (const VmSpec* other = spec_.find_vm(v.name)) {
    fail(locate(*name), fmt::format("duplicate vm name '{}' (first declared at {})",
                                    input::clip(v.name), spec_.where(other->loc)));
    return;
  }
  if (!cpus) {
    fail(v.loc, "missing required key 'cpus' in [[vm]] (the host CPU of each vCPU)");
    return;
  }
  read_vm_cpus(*cpus, v);
  if (error_) return;
  opt(at, v.at, a_cycle());
  if (error_) return;
  if (until) {
    if (auto c = cycle(*until, until.what)) {
      if (*c <= v.at) {
        fail(locate(*until), fmt::format("vm.until = {} must come after at = {}", *c, v.at));
      }
      v.until = *c;
    }
  }
  // The guest kernel's own system keys; each defaults to the host's.
  const SystemSpec& host = spec_.system;
  v.delivery = host.delivery;
  v.apic = host.apic;
  v.kernel = host.kernel;
  opt(delivery, v.delivery, one_of(kDeliveryNames));
  v.nmi_source = host.nmi_source && v.delivery == Delivery::fred;
  opt(nmi_source, v.nmi_source, a_boolean());
  opt(kernel, v.kernel, one_of(kKernelNames));
  opt(apic, v.apic, one_of(kApicNames));
  opt(nmi_exiting, v.nmi_exiting, a_boolean());
  // The guest kernel's sysctls, as the host's [kernel] reads them (loader_system.cpp).
  opt(unknown_nmi_panic, v.unknown_nmi_panic, a_boolean());
  opt(nmi_longest_ns, v.nmi_longest_ns, in_range(0, kMaxInt));
  if (virtual_nmis) {
    bool on = false;
    opt(virtual_nmis, on, a_boolean());
    v.virtual_nmis = on;
  }
  if (error_) return;
  if (v.delivery == Delivery::fred && host.delivery != Delivery::fred) {
    // The guest's CPUID is a subset of the host CPU's: a CPU without FRED
    // (system.delivery = "idt" models one) cannot run a FRED guest.
    fail(v.keys.loc_of("delivery", v.loc),
         "vm.delivery = \"fred\" needs a host CPU with FRED (system.delivery = \"fred\")");
    return;
  }
  if (v.nmi_source && v.delivery != Delivery::fred) {
    fail(v.keys.loc_of("nmi_source", v.loc),
         "vm.nmi_source = true needs delivery = \"fred\" (the guest receives the NMI-source "
         "bitmap as the FRED event data of the NMI KVM injects; IDT delivery has none)");
    return;
  }
  if (v.apic == apic::ApicMode::xapic && v.cpus.size() > apic::kXapicMaxCpus) {
    fail(v.keys.loc_of("apic", v.loc),
         fmt::format("vm.apic = \"xapic\" addresses at most {} vCPUs, but cpus lists {}",
                     apic::kXapicMaxCpus, v.cpus.size()));
    return;
  }
  if (v.virtual_nmis.value_or(false) && !v.nmi_exiting) {
    // SDM Vol. 3C "Checks on VMX Controls": "virtual NMIs" needs "NMI exiting".
    fail(v.keys.loc_of("virtual_nmis", v.loc),
         "vm.virtual_nmis = true needs nmi_exiting = true (VM entry checks that the "
         "\"virtual NMIs\" control comes with \"NMI exiting\")");
    return;
  }
  spec_.vms.push_back(std::move(v));
}

void Validator::read_vm_cpus(const toml::node& n, VmSpec& v) {
  const auto* a = n.as_array();
  if (!a) {
    fail(locate(n), fmt::format("vm.cpus must be an array of host CPU numbers (vCPU i runs on "
                                "cpus[i]), not {}",
                                type_name(n.type())));
    return;
  }
  if (a->empty()) {
    fail(locate(n), "vm.cpus must list at least one host CPU");
    return;
  }
  for (const auto& e : *a) {
    auto c = cpu_number(e, "vm.cpus");
    if (!c) return;
    for (std::size_t i = 0; i < v.cpus.size(); ++i) {
      if (v.cpus[i] == *c) {
        fail(locate(e), fmt::format("vm.cpus lists host CPU {} twice (vCPUs {} and {}); a CPU "
                                    "runs one vCPU at a time",
                                    *c, i, v.cpus.size()));
        return;
      }
    }
    v.cpus.push_back(*c);
  }
}

}  // namespace fredsim::scenario::loader

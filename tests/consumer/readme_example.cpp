// README.md's library example, whole: scripts/consumer-check.sh builds it with
// -Wall -Wextra -Werror against the installed package and runs it, and ctest's
// docs.readme_example checks that README.md shows this file's text, so the
// example cannot rot.
#include <fredsim/fredsim.hpp>

#include <cstdio>

int main() {
  using namespace fredsim;
  system::SystemConfig cfg;  // FRED + NMI-source, x2APIC, kernel v7
  cfg.machine.cpus = 8;
  // value() throws fredsim::BadResultAccess with the error's message on an error.
  auto sys = system::System::create(cfg).value();
  kernel::Kernel& k = sys->kernel();
  const kernel::HandlerId bt =
      k.register_model(kernel::NmiType::local, kernel::HandlerModel::backtrace, 0, "arch_bt",
                       kernel::nmis::VECTOR_BT)
          .value();
  const CpuId all[] = {0, 1, 2, 3, 4, 5, 6, 7};
  sys->at(1000, [&] { k.trigger_backtrace(0, all, /*exclude_self=*/true); });
  while (auto ev = sys->step()) {  // one event at a time: inspect anything between steps
    std::printf("cycle %6llu  cpu %2d  %.*s\n", static_cast<unsigned long long>(ev->cycle),
                ev->cpu == kNoCpu ? -1 : static_cast<int>(ev->cpu),
                static_cast<int>(ev->name.size()), ev->name.data());
  }
  const kernel::HandlerStats& calls = k.registry().handler(bt).total;
  std::printf("arch_bt: %llu calls, %llu NMIs handled\n",
              static_cast<unsigned long long>(calls.calls),
              static_cast<unsigned long long>(calls.handled));
  return calls.handled == 7 ? 0 : 1;  // CPUs 1..7 printed their backtraces
}

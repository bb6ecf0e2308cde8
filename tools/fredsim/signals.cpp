// The signal flag of the command line (signals.hpp).
#include "signals.hpp"

namespace fredsim::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;  // the handlers are in place (arm_signal_handlers)
bool g_wanted = false;     // install_signal_handlers() was called (by main)

extern "C" void on_signal(int sig) {
  g_signal = sig;  // all a handler may do: the command checks it
}

}  // namespace

void install_signal_handlers() {
  g_wanted = true;
}

bool signal_handlers_wanted() {
  return g_wanted;
}

void arm_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a read at the `step` prompt returns, so ^C is seen there.
  // SA_RESETHAND: a second signal, while the first is being handled, ends the
  // process as it would have without fredsim's handler.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  g_installed = true;
}

const volatile std::sig_atomic_t* interrupt_flag() {
  return &g_signal;
}

int caught_signal() {
  return g_signal;
}

bool take_sigint() {
  if (g_signal != SIGINT) return false;
  g_signal = 0;
  if (g_installed) arm_signal_handlers();  // SA_RESETHAND disarmed it
  return true;
}

int signal_status(int sig) {
  return 128 + sig;
}

std::string_view signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

}  // namespace fredsim::cli

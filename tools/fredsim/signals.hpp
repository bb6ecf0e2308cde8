#pragma once
// SIGINT and SIGTERM in the commands that run scenarios (docs/cli.md "Signals"):
// the handlers only set a flag, which the runs check before each event.
#include <csignal>
#include <string_view>

namespace fredsim::cli {

/// Lets cli_main install handlers for SIGINT and SIGTERM in run, compare, step
/// and suite. main() calls it; without it the signals keep their default action
/// (tests run the commands in-process). A second signal ends the process at once.
void install_signal_handlers();
/// True once install_signal_handlers() was called.
bool signal_handlers_wanted();
/// Installs the handlers now.
void arm_signal_handlers();

/// The flag the handlers set: the number of the signal, 0 when none came.
const volatile std::sig_atomic_t* interrupt_flag();
/// The flag's value.
int caught_signal();
/// For `step`: when the flag holds SIGINT, clears it, installs the handler again
/// (it was reset by the signal) and returns true.
bool take_sigint();

/// 128 + the signal, as a shell reports a process a signal ended.
int signal_status(int sig);
std::string_view signal_name(int sig);

}  // namespace fredsim::cli

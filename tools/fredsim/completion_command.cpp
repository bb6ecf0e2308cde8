// `fredsim completion` (completion_command.hpp).
#include "completion_command.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "exit_codes.hpp"
#include "list_command.hpp"

namespace fredsim::cli {
namespace {

/// Every long and short option name of `app` ("--json", "-q"), help included.
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames())
      names.push_back("--" + l);
    for (const auto& s : o->get_snames())
      names.push_back("-" + s);
  }
  return names;
}

}  // namespace

void write_bash_completion(CLI::App& app, std::ostream& out) {
  std::vector<CLI::App*> subs;
  for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; }))
    subs.push_back(s);
  std::vector<std::string> sub_names;
  for (CLI::App* s : subs)
    sub_names.push_back(s->get_name());

  fmt::print(out,
             "# bash completion for fredsim, written by `fredsim completion bash`.\n"
             "# Load it in a shell:   source <(fredsim completion bash)\n"
             "# or for every shell:   fredsim completion bash > "
             "~/.local/share/bash-completion/completions/fredsim\n"
             "_fredsim() {{\n"
             "  local cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n"
             "  local subcommands=\"{}\"\n"
             "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
             "    COMPREPLY=($(compgen -W \"$subcommands {}\" -- \"$cur\"))\n"
             "    return\n"
             "  fi\n"
             "  local opts=\"\" words=\"\"\n"
             "  case \"${{COMP_WORDS[1]}}\" in\n",
             fmt::join(sub_names, " "), fmt::join(option_names(app), " "));
  for (CLI::App* s : subs) {
    std::string words;
    // The words a subcommand takes besides files.
    if (s->get_name() == "list") {
      words = fmt::format("{}", fmt::join(kListKinds, " "));
    } else if (s->get_name() == "completion") {
      words = "bash";
    }
    fmt::print(out, "    {}) opts=\"{}\"; words=\"{}\" ;;\n", s->get_name(),
               fmt::join(option_names(*s), " "), words);
  }
  fmt::print(out,
             "  esac\n"
             "  if [[ \"$cur\" == -* ]]; then\n"
             "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
             "  elif [ -n \"$words\" ]; then\n"
             "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
             "  else\n"
             "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
             "  fi\n"
             "}}\n"
             "complete -o filenames -F _fredsim fredsim\n");
}

Subcommand add_completion_subcommand(CLI::App& app, const CliContext& ctx) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "completion", "Print a shell completion script (subcommands, options, list's kinds)");
  cmd->add_option("SHELL", *shell, "The shell: bash")->required()->check(CLI::IsMember({"bash"}));
  cmd->footer(
      "Example:\n"
      "  source <(fredsim completion bash)\n"
      "  fredsim completion bash > ~/.local/share/bash-completion/completions/fredsim");
  return {cmd, [shell, &app, &ctx] {
            write_bash_completion(app, ctx.out);
            return kExitPassed;
          }};
}

}  // namespace fredsim::cli

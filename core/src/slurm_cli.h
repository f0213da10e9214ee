// `ezone slurm submit|merge|status|cancel`: the command line of slurm.h.
// Kept apart from main.cc so the CLI11 wiring of a campaign lives with it.
#ifndef EZONE_SLURM_CLI_H_
#define EZONE_SLURM_CLI_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "slurm.h"

namespace ezone {

struct SlurmCli {
  CLI::App* command = nullptr;
  CLI::App* submit = nullptr;
  CLI::App* merge = nullptr;
  CLI::App* status = nullptr;
  CLI::App* cancel = nullptr;
  slurm::SubmitOptions options;
  std::string guest_dir;
  bool wait = false;
  std::string target;  // a campaign directory or a job id
  bool cancel_merge = false;
};

// Adds the `slurm` subcommand and its own subcommands to `app`; `cli` must
// outlive the parse.
void AddSlurmCommands(CLI::App& app, SlurmCli& cli);

// Runs the chosen one. `self`: this executable's absolute path, which the
// tasks run. Exit status: submit --wait as `ezone run` (0, 1, 77); else 0, or
// 2 when Slurm or the campaign says no.
int RunSlurmCommand(SlurmCli& cli, const std::vector<std::string>& plugin_dirs,
                    const std::string& self);

}  // namespace ezone

#endif  // EZONE_SLURM_CLI_H_

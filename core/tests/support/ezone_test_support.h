// Helpers shared by the end-to-end tests that drive the real ezone binary
// (core/tests, plugins/*/tests).
#ifndef EZONE_TESTS_SUPPORT_EZONE_TEST_SUPPORT_H_
#define EZONE_TESTS_SUPPORT_EZONE_TEST_SUPPORT_H_

#include <filesystem>
#include <string>
#include <vector>

namespace ezone::testing_support {

struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, collecting its output.
CommandResult RunCommand(const std::string& command);

// `<exe> run <args>`.
CommandResult RunEzone(const std::string& exe, const std::string& args);

// An empty directory `base/name`, created anew.
std::filesystem::path FreshDir(const std::filesystem::path& base, const std::string& name);

// The guest nonce in a check's JUnit system-out (its kernel command line).
std::string NonceIn(const std::string& system_out);

// Processes whose command line contains `needle` (this process excluded).
std::vector<int> ProcessesWith(const std::string& needle);

// xmllint against the JUnit schema: "" when valid, else xmllint's output.
std::string SchemaErrors(const std::string& xmllint, const std::string& xsd,
                         const std::filesystem::path& junit);

// A running `<exe> run <args>` with its stdout and stderr on a pipe.
struct Runner {
  int pid = -1;
  int out = -1;  // read end; close it when done
};
Runner StartEzone(const std::string& exe, const std::vector<std::string>& args);

// Reads the runner's output into *text until `needle` appears; false at EOF.
bool ReadUntil(const Runner& runner, const std::string& needle, std::string* text);

// The VMM pid a runner's progress announced ("... vmm pid N"), or -1.
int VmmPidIn(const std::string& text);

}  // namespace ezone::testing_support

#endif  // EZONE_TESTS_SUPPORT_EZONE_TEST_SUPPORT_H_

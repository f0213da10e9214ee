#include "ezone_test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ezone::testing_support {

namespace fs = std::filesystem;

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CommandResult RunEzone(const std::string& exe, const std::string& args) {
  return RunCommand(exe + " run " + args);
}

fs::path FreshDir(const fs::path& base, const std::string& name) {
  fs::path dir = base / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string NonceIn(const std::string& system_out) {
  size_t at = system_out.find("ezone.nonce=");
  return at == std::string::npos ? "" : system_out.substr(at + 12, 16);
}

std::vector<int> ProcessesWith(const std::string& needle) {
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos && std::stoi(name) != getpid()) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

std::string SchemaErrors(const std::string& xmllint, const std::string& xsd,
                         const fs::path& junit) {
  CommandResult r = RunCommand(xmllint + " --noout --schema " + xsd + " " + junit.string());
  return r.exit_code == 0 ? "" : r.output;
}

Runner StartEzone(const std::string& exe, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<std::string> storage = {exe, "run"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

bool ReadUntil(const Runner& runner, const std::string& needle, std::string* text) {
  char buf[4096];
  while (text->find(needle) == std::string::npos) {
    ssize_t n = read(runner.out, buf, sizeof buf);
    if (n <= 0) return false;
    text->append(buf, static_cast<size_t>(n));
  }
  return true;
}

int VmmPidIn(const std::string& text) {
  size_t at = text.find("vmm pid ");
  return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + 8);
}

}  // namespace ezone::testing_support

#include "slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "elapsed.h"
#include "plugin_registry.h"
#include "verdict.h"

namespace ezone::slurm {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using report::CheckRecord;
using report::Verdict;

constexpr int kDefaultMaxTasks = 16;

struct CommandResult {
  int status = -1;  // exit status; -1: could not start or killed
  std::string out, err;
};

// Runs a command (no shell) and collects its stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Trim(std::string s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = Trim(line);
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

// For a bash script: one word, whatever it holds.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// sbatch --parsable prints "<id>" or "<id>;<cluster>".
std::string ParsableJobId(const std::string& out) {
  std::string id = Trim(out);
  return id.substr(0, id.find(';'));
}

std::string Sbatch(std::vector<std::string> args) {
  args.insert(args.begin(), {"sbatch", "--parsable"});
  CommandResult r = RunCommand(args);
  std::string id = ParsableJobId(r.out);
  if (r.status != 0 || id.empty() ||
      !std::all_of(id.begin(), id.end(), [](char c) { return isdigit(static_cast<unsigned char>(c)); })) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error("sbatch refused (" + cmd + "): " + Trim(r.err + r.out));
  }
  return id;
}

// The nodes of a partition, else of a node list ("node[01-40]").
std::vector<std::string> ResolveNodes(const std::string& partition_or_list, bool* is_partition) {
  std::vector<std::string> nodes;
  CommandResult r = RunCommand({"sinfo", "-h", "-N", "-p", partition_or_list, "-o", "%N"});
  if (r.status == 0) {
    for (const auto& n : Lines(r.out)) {
      if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
    }
  }
  *is_partition = !nodes.empty();
  if (nodes.empty()) {
    r = RunCommand({"scontrol", "show", "hostnames", partition_or_list});
    if (r.status == 0) nodes = Lines(r.out);
  }
  if (nodes.empty()) {
    throw std::runtime_error("--each-node " + partition_or_list +
                             ": neither a partition nor a node list Slurm knows" +
                             (r.err.empty() ? "" : " (" + Trim(r.err) + ")"));
  }
  return nodes;
}

void WriteTextFile(const fs::path& path, const std::string& text, bool executable) {
  fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  if (executable) {
    fs::permissions(tmp, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
  }
  fs::rename(tmp, path);
}

// The #SBATCH lines both scripts share.
std::string CommonDirectives(const SubmitOptions& o, const fs::path& dir) {
  std::string s = "#SBATCH --no-requeue\n";  // a requeued task would run its share twice
  s += "#SBATCH --comment=ezone:" + dir.string() + "\n";
  if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.account.empty()) s += "#SBATCH --account=" + o.account + "\n";
  for (const auto& a : o.sbatch_args) s += "#SBATCH " + a + "\n";
  return s;
}

std::string TaskScript(const SubmitOptions& o, const Campaign& c) {
  const fs::path& dir = c.report_dir;
  std::string s = "#!/bin/bash\n";
  s += "# An ezone campaign task, written by `ezone slurm submit` on " + c.submitted + ".\n";
  s += "# Campaign: " + dir.string() + " (campaign.json says which task runs which checks).\n";
  if (c.each_node) {
    s += "# One job per node, each running every check with its node as the host under test;\n";
    s += "# submitted per node as: sbatch --nodelist=NODE --export=ALL,EZONE_TASK=I \\\n";
    s += "#   --output=" + (dir / "slurm").string() + "/task-I.out " +
         (dir / "ezone-task.sbatch").string() + "\n";
  } else {
    s += "# A job array: task I runs GoogleTest shard I of " + std::to_string(c.tasks.size()) +
         ". Resubmit with: sbatch " + (dir / "ezone-task.sbatch").string() + "\n";
  }
  s += "# Then: sbatch --dependency=afterany:<job ids> " + (dir / "ezone-merge.sbatch").string() +
       "\n";
  s += "#SBATCH --job-name=ezone-" + c.name + "\n";
  if (!c.each_node) {
    s += "#SBATCH --array=0-" + std::to_string(c.tasks.size() - 1);
    if (o.throttle > 0) s += "%" + std::to_string(o.throttle);
    s += "\n#SBATCH --output=" + (dir / "slurm").string() + "/task-%a.out\n";
  }
  s += "#SBATCH --nodes=1\n";
  if (!o.time.empty()) s += "#SBATCH --time=" + o.time + "\n";
  if (o.exclusive) s += "#SBATCH --exclusive\n";
  s += CommonDirectives(o, dir);
  s += "\nset -u\n";
  if (c.each_node) {
    s += "task=${EZONE_TASK:?submit with --export=ALL,EZONE_TASK=<index>}\n";
    s += "unset GTEST_TOTAL_SHARDS GTEST_SHARD_INDEX  # every node runs the whole suite\n";
  } else {
    s += "task=${EZONE_TASK:-$SLURM_ARRAY_TASK_ID}\n";
    s += "export GTEST_TOTAL_SHARDS=" + std::to_string(c.tasks.size()) +
         " GTEST_SHARD_INDEX=$task\n";
  }
  s += "exec " + ShellQuote(c.ezone);
  for (const auto& a : o.global_args) s += " " + ShellQuote(a);
  s += " run";
  for (const auto& suite : c.suites) s += " " + ShellQuote(suite);
  s += " --report-dir " + ShellQuote((dir / "tasks").string() + "/task-") + "\"$task\"";
  for (const auto& a : o.run_args) s += " " + ShellQuote(a);
  return s + "\n";
}

std::string MergeScript(const SubmitOptions& o, const Campaign& c) {
  const fs::path& dir = c.report_dir;
  std::string s = "#!/bin/bash\n";
  s += "# Merges the journals of every task of the ezone campaign in " + dir.string() + "\n";
  s += "# into one junit.xml, report.html and summary.md there; checks a task lost are\n";
  s += "# errors naming its Slurm state. Written by `ezone slurm submit` on " + c.submitted +
       ".\n";
  s += "#SBATCH --job-name=ezone-" + c.name + "-merge\n";
  s += "#SBATCH --output=" + (dir / "slurm" / "merge.out").string() + "\n";
  s += "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
  if (!o.time.empty()) s += "#SBATCH --time=00:15:00\n";
  s += CommonDirectives(o, dir);
  s += "\nexec " + ShellQuote(c.ezone);
  for (const auto& a : o.global_args) s += " " + ShellQuote(a);
  s += " slurm merge " + ShellQuote(dir.string()) + "\n";
  return s;
}

Json ToJson(const Campaign& c) {
  Json j;
  j["version"] = 1;
  j["name"] = c.name;
  j["report_dir"] = c.report_dir.string();
  j["each_node"] = c.each_node;
  j["suites"] = c.suites;
  j["submitted"] = c.submitted;
  j["ezone"] = c.ezone;
  j["array_job_id"] = c.array_job_id;
  j["merge_job_id"] = c.merge_job_id;
  j["checks"] = Json::array();
  for (const auto& p : c.checks) {
    j["checks"].push_back({{"suite", p.suite}, {"classname", p.classname}, {"name", p.name},
                           {"vmm", p.vmm}, {"fault", p.fault}, {"variant", p.variant},
                           {"policy", p.policy}, {"zone", p.zone}});
  }
  j["tasks"] = Json::array();
  for (const auto& t : c.tasks) {
    j["tasks"].push_back(
        {{"index", t.index}, {"node", t.node}, {"checks", t.checks}, {"job_id", t.job_id}});
  }
  return j;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const TaskState& StateOf(const std::map<int, TaskState>& states, const Task& task) {
  static const TaskState kUnknown{"", "UNKNOWN", "", ""};
  auto it = states.find(task.index);
  return it == states.end() ? kUnknown : it->second;
}

std::string SlurmWords(const Task& task, const TaskState& st) {
  std::string node = !st.node.empty() ? st.node : !task.node.empty() ? task.node : "none";
  return "Slurm task " + (st.job_id.empty() ? task.job_id : st.job_id) + " ended " + st.state +
         " on node " + node;
}

bool Unfinished(const std::string& state) {
  static const std::set<std::string> kLive = {"PENDING",    "RUNNING",   "CONFIGURING",
                                               "COMPLETING", "SUSPENDED", "REQUEUED",
                                               "RESIZING",   "STAGE_OUT", "SIGNALING"};
  return kLive.count(state) > 0;
}

// The journal files of a task, in name order.
std::vector<fs::path> TaskJournals(const Campaign& c, int index) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::path dir = TaskDir(c, index) / "journal";
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Reads a task's journal as its own host would: a check left open is
// "interrupted", unless Slurm says the node failed, which counts as the host
// going down (as a changed boot id does).
report::JournalContents ReadTaskJournal(const fs::path& file, bool node_failed,
                                        const std::string& why) {
  // The first read only learns the boot id the task's run recorded.
  report::JournalContents first = report::ReadJournal(file, "ezone-merge");
  const std::string boot =
      node_failed ? "unknown (" + why + ")" : (first.boot_id.empty() ? "unknown" : first.boot_id);
  return report::ReadJournal(file, boot);
}

}  // namespace

std::vector<std::size_t> ShardOf(const std::vector<PlannedCheck>& checks, int total, int index) {
  // GoogleTest groups tests by test suite (our classname) in the order the
  // suite first appeared, and numbers them across suites in that order.
  std::vector<std::string> order;
  for (const auto& c : checks) {
    if (std::find(order.begin(), order.end(), c.classname) == order.end()) {
      order.push_back(c.classname);
    }
  }
  std::vector<std::size_t> mine;
  int number = 0;
  for (const auto& classname : order) {
    for (std::size_t i = 0; i < checks.size(); ++i) {
      if (checks[i].classname != classname) continue;
      if (number % total == index) mine.push_back(i);
      ++number;
    }
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

std::vector<PlannedCheck> PlanChecks(const std::vector<Suite>& suites,
                                     const PluginRegistry& registry) {
  std::vector<PlannedCheck> plan;
  for (const Suite& suite : suites) {
    for (const CheckSpec& s : suite.checks) {
      PlannedCheck p{s.suite, s.classname, s.name, s.vmm_label, s.fault, s.variant,
                     std::string(report::PolicyName(s.policy)), ""};
      const Plugin* fault = registry.FindFault(s.fault);
      const ezone_fault_variant* v = fault ? fault->FindVariant(s.variant) : nullptr;
      if (v) p.zone = ZoneName(v->zone);
      plan.push_back(std::move(p));
    }
  }
  return plan;
}

fs::path TaskDir(const Campaign& campaign, int index) {
  return campaign.report_dir / "tasks" / ("task-" + std::to_string(index));
}

void SaveCampaign(const Campaign& campaign) {
  WriteTextFile(campaign.report_dir / kCampaignFile, ToJson(campaign).dump(2) + "\n", false);
}

Campaign LoadCampaign(const fs::path& report_dir) {
  fs::path file = report_dir / kCampaignFile;
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": no campaign here (cannot open)");
  Campaign c;
  try {
    Json j = Json::parse(in);
    c.name = Str(j, "name");
    c.report_dir = Str(j, "report_dir");
    c.each_node = j.value("each_node", false);
    c.suites = j.value("suites", std::vector<std::string>{});
    c.submitted = Str(j, "submitted");
    c.ezone = Str(j, "ezone");
    c.array_job_id = Str(j, "array_job_id");
    c.merge_job_id = Str(j, "merge_job_id");
    for (const auto& p : j.at("checks")) {
      c.checks.push_back({Str(p, "suite"), Str(p, "classname"), Str(p, "name"), Str(p, "vmm"),
                          Str(p, "fault"), Str(p, "variant"), Str(p, "policy"), Str(p, "zone")});
    }
    for (const auto& t : j.at("tasks")) {
      Task task;
      task.index = t.at("index").get<int>();
      task.node = Str(t, "node");
      task.checks = t.at("checks").get<std::vector<std::size_t>>();
      task.job_id = Str(t, "job_id");
      for (std::size_t i : task.checks) {
        if (i >= c.checks.size()) throw std::runtime_error("task names a check out of range");
      }
      c.tasks.push_back(std::move(task));
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
  // The directory may have been moved or be mounted elsewhere: trust where
  // the file was found.
  c.report_dir = fs::absolute(report_dir);
  return c;
}

Campaign Submit(const SubmitOptions& o, const std::vector<Suite>& suites,
                const PluginRegistry& registry) {
  if (o.report_dir.empty()) throw std::runtime_error("--report-dir is required");
  Campaign c;
  c.report_dir = fs::absolute(o.report_dir).lexically_normal();
  if (c.report_dir.string().find_first_of(" \t\n'\"\\") != std::string::npos) {
    throw std::runtime_error("--report-dir " + c.report_dir.string() +
                             ": #SBATCH lines cannot hold spaces or quotes; choose another path");
  }
  if (fs::exists(c.report_dir / kCampaignFile)) {
    throw std::runtime_error(c.report_dir.string() +
                             " already holds a campaign: give each campaign its own --report-dir");
  }
  c.name = suites.front().name;
  for (const auto& s : o.suites) c.suites.push_back(fs::absolute(s).lexically_normal().string());
  c.checks = PlanChecks(suites, registry);
  if (c.checks.empty()) throw std::runtime_error("the suites hold no checks");
  c.submitted = IsoNow();
  c.ezone = o.ezone;

  SubmitOptions opt = o;
  if (!o.each_node.empty()) {
    c.each_node = true;
    bool is_partition = false;
    std::vector<std::string> nodes = ResolveNodes(o.each_node, &is_partition);
    if (is_partition && opt.partition.empty()) opt.partition = o.each_node;
    std::vector<std::size_t> all(c.checks.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      c.tasks.push_back({static_cast<int>(i), nodes[i], all, ""});
    }
  } else {
    int total = o.tasks > 0 ? o.tasks : kDefaultMaxTasks;
    total = std::min<int>(total, static_cast<int>(c.checks.size()));
    for (int i = 0; i < total; ++i) c.tasks.push_back({i, "", ShardOf(c.checks, total, i), ""});
  }

  fs::create_directories(c.report_dir / "slurm");
  fs::create_directories(c.report_dir / "tasks");
  const fs::path task_script = c.report_dir / "ezone-task.sbatch";
  const fs::path merge_script = c.report_dir / "ezone-merge.sbatch";
  WriteTextFile(task_script, TaskScript(opt, c), true);
  WriteTextFile(merge_script, MergeScript(opt, c), true);
  SaveCampaign(c);
  if (o.no_submit) return c;

  // Submitted jobs are cancelled again if a later submission fails: a
  // campaign is whole or not there.
  std::vector<std::string> submitted;
  try {
    std::string dependency = "afterany";
    if (c.each_node) {
      for (Task& t : c.tasks) {
        t.job_id = Sbatch({"--nodelist=" + t.node,
                           "--export=ALL,EZONE_TASK=" + std::to_string(t.index),
                           "--output=" + (c.report_dir / "slurm").string() + "/task-" +
                               std::to_string(t.index) + ".out",
                           task_script.string()});
        submitted.push_back(t.job_id);
        dependency += ":" + t.job_id;
      }
    } else {
      c.array_job_id = Sbatch({task_script.string()});
      submitted.push_back(c.array_job_id);
      for (Task& t : c.tasks) t.job_id = c.array_job_id + "_" + std::to_string(t.index);
      dependency += ":" + c.array_job_id;
    }
    c.merge_job_id = Sbatch({"--dependency=" + dependency, "--kill-on-invalid-dep=no",
                             merge_script.string()});
  } catch (...) {
    if (!submitted.empty()) {
      std::vector<std::string> args = {"scancel"};
      args.insert(args.end(), submitted.begin(), submitted.end());
      RunCommand(args);
    }
    throw;
  }
  SaveCampaign(c);
  return c;
}

std::map<std::string, TaskState> ParseJobStates(const std::string& text) {
  std::map<std::string, TaskState> states;
  for (const auto& line : Lines(text)) {
    std::vector<std::string> f = Split(line, '|');
    if (f.size() < 3) continue;
    TaskState st;
    st.job_id = f[0];
    st.state = f[1].substr(0, f[1].find(' '));  // "CANCELLED by 0"
    st.node = f[2] == "None assigned" || f[2] == "(null)" ? "" : f[2];
    if (f.size() > 3) st.reason = f[3] == "None" ? "" : f[3];
    // A pending array's tasks in one line: "123_[0-3%2]" or "123_[1,4-5]".
    const auto open = st.job_id.find("_[");
    if (open != std::string::npos && st.job_id.back() == ']') {
      const std::string base = st.job_id.substr(0, open);
      std::string range = st.job_id.substr(open + 2, st.job_id.size() - open - 3);
      range = range.substr(0, range.find('%'));
      for (const auto& part : Split(range, ',')) {
        const auto dash = part.find('-');
        try {
          int from = std::stoi(part.substr(0, dash));
          int to = dash == std::string::npos ? from : std::stoi(part.substr(dash + 1));
          for (int i = from; i <= to; ++i) {
            TaskState one = st;
            one.job_id = base + "_" + std::to_string(i);
            states[one.job_id] = one;
          }
        } catch (const std::exception&) {
        }
      }
      continue;
    }
    states[st.job_id] = st;
  }
  return states;
}

std::map<int, TaskState> QueryTaskStates(const Campaign& c) {
  std::string ids = c.array_job_id;
  for (const Task& t : c.tasks) {
    if (c.each_node && !t.job_id.empty()) ids += (ids.empty() ? "" : ",") + t.job_id;
  }
  std::map<int, TaskState> by_task;
  if (ids.empty()) return by_task;
  std::map<std::string, TaskState> states;
  CommandResult r =
      RunCommand({"sacct", "-n", "-P", "-X", "-j", ids, "-o", "JobID,State,NodeList,ExitCode"});
  if (r.status == 0) states = ParseJobStates(r.out);
  // Without accounting (or a job it has not caught up with), the controller.
  CommandResult q = RunCommand({"squeue", "-h", "-r", "-t", "all", "-j", ids, "-o", "%i|%T|%N|%r"});
  if (q.status == 0) {
    for (auto& [id, st] : ParseJobStates(q.out)) states.try_emplace(id, st);
  }
  for (const Task& t : c.tasks) {
    auto it = states.find(t.job_id);
    by_task[t.index] = it != states.end() ? it->second : TaskState{t.job_id, "UNKNOWN", "", ""};
  }
  return by_task;
}

MergeResult MergeCampaign(const Campaign& c, const std::map<int, TaskState>& states) {
  MergeResult result;
  report::JournalContents& merged = result.contents;
  merged.run.name = c.name;
  merged.report_dir = c.report_dir;
  merged.finished = true;

  std::map<std::string, std::size_t> planned;  // check id -> index
  for (std::size_t i = 0; i < c.checks.size(); ++i) planned.emplace(c.checks[i].id(), i);

  // (task for --each-node, else 0; planned index or a large number) -> record
  std::vector<std::pair<std::pair<int, std::size_t>, CheckRecord>> sorted;
  std::set<std::pair<int, std::size_t>> seen;
  std::vector<std::string> nodes;
  bool first_run = true;
  for (const Task& task : c.tasks) {
    const TaskState& st = StateOf(states, task);
    if (Unfinished(st.state)) merged.finished = false;
    const std::string words = SlurmWords(task, st);
    const int group = c.each_node ? task.index : 0;
    std::string node = !task.node.empty() ? task.node : st.node;
    std::string journal_error;
    for (const fs::path& file : TaskJournals(c, task.index)) {
      report::JournalContents one;
      try {
        one = ReadTaskJournal(file, st.state == "NODE_FAIL", words);
      } catch (const std::exception& e) {
        journal_error = e.what();
        std::cerr << "ezone: task " << task.index << ": " << e.what() << "\n";
        continue;
      }
      if (first_run) {
        merged.run.timestamp = one.run.timestamp;
        first_run = false;
      }
      for (const auto& [k, v] : one.run.properties) merged.run.properties.emplace(k, v);
      for (CheckRecord& r : one.records) {
        auto p = planned.find(r.classname + "/" + r.name);
        std::size_t index = p == planned.end() ? planned.size() + sorted.size() : p->second;
        auto& props = r.properties;
        if (!props.count(kNodeProperty) && !node.empty()) props[kNodeProperty] = node;
        const std::string record_node = props.count(kNodeProperty) ? props[kNodeProperty] : "";
        if (props.count("journal.interrupted")) {
          ++result.interrupted;
          r.message += " (" + words + ")";
          props["slurm.state"] = st.state;
          props["slurm.job_id"] = st.job_id.empty() ? task.job_id : st.job_id;
        }
        if (c.each_node && !record_node.empty()) r.name += "@" + record_node;
        if (!record_node.empty() &&
            std::find(nodes.begin(), nodes.end(), record_node) == nodes.end()) {
          nodes.push_back(record_node);
        }
        seen.insert({group, index});
        sorted.push_back({{group, index}, std::move(r)});
      }
    }
    // The checks this task was to run and nobody ran.
    for (std::size_t index : task.checks) {
      if (seen.count({group, index})) continue;
      const PlannedCheck& p = c.checks[index];
      CheckRecord r;
      r.suite = p.suite;
      r.classname = p.classname;
      r.name = p.name;
      r.vmm = p.vmm;
      r.fault = p.fault;
      r.variant = p.variant;
      r.policy = p.policy;
      r.zone = p.zone;
      r.verdict = Verdict::kError;
      r.message = "never ran: " + words + " before this check started";
      if (!journal_error.empty()) r.detail = "The task's journal is unreadable: " + journal_error;
      r.evidence.push_back({report::EvidenceSource::kScheduler, report::Severity::kInfo,
                            "slurm: job " + (st.job_id.empty() ? task.job_id : st.job_id) +
                                " state " + st.state +
                                (st.reason.empty() ? "" : " (" + st.reason + ")")});
      r.properties["slurm.state"] = st.state;
      r.properties["slurm.job_id"] = st.job_id.empty() ? task.job_id : st.job_id;
      if (!node.empty()) {
        r.properties[kNodeProperty] = node;
        if (c.each_node) r.name += "@" + node;
      }
      ++result.never_ran;
      seen.insert({group, index});
      sorted.push_back({{group, index}, std::move(r)});
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [key, r] : sorted) merged.records.push_back(std::move(r));
  merged.interrupted = result.interrupted;
  for (const auto& n : nodes) merged.run.hostname += (merged.run.hostname.empty() ? "" : ",") + n;
  if (merged.run.timestamp.empty()) merged.run.timestamp = c.submitted;
  merged.run.properties["slurm.tasks"] = std::to_string(c.tasks.size());
  if (!c.array_job_id.empty()) merged.run.properties["slurm.array_job_id"] = c.array_job_id;
  if (c.each_node) merged.run.properties["slurm.each_node"] = std::to_string(c.tasks.size()) + " nodes";
  return result;
}

Progress CampaignProgress(const Campaign& c) {
  Progress p;
  std::map<int, TaskState> states = QueryTaskStates(c);
  for (const Task& t : c.tasks) {
    const TaskState& st = StateOf(states, t);
    ++p.tasks_by_state[st.state];
    p.checks_planned += t.checks.size();
    for (const fs::path& file : TaskJournals(c, t.index)) {
      try {
        report::JournalContents one = ReadTaskJournal(file, false, "");
        for (const CheckRecord& r : one.records) {
          if (r.properties.count("journal.interrupted")) {
            ++p.verdicts[Unfinished(st.state) ? "running" : "interrupted"];
          } else {
            ++p.verdicts[std::string(report::VerdictName(r.verdict))];
          }
        }
      } catch (const std::exception&) {
        ++p.verdicts["unreadable journal"];
      }
    }
  }
  if (!c.merge_job_id.empty()) {
    CommandResult q =
        RunCommand({"squeue", "-h", "-t", "all", "-j", c.merge_job_id, "-o", "%i|%T|%N|%r"});
    auto m = ParseJobStates(q.out);
    p.merge_state = m.count(c.merge_job_id) ? m[c.merge_job_id].state : "";
    if (p.merge_state.empty()) {
      CommandResult s = RunCommand(
          {"sacct", "-n", "-P", "-X", "-j", c.merge_job_id, "-o", "JobID,State,NodeList,ExitCode"});
      auto a = ParseJobStates(s.out);
      p.merge_state = a.count(c.merge_job_id) ? a[c.merge_job_id].state : "UNKNOWN";
    }
  }
  return p;
}

fs::path FindCampaignDir(const std::string& job_or_dir) {
  std::error_code ec;
  if (fs::exists(fs::path(job_or_dir) / kCampaignFile, ec)) return job_or_dir;
  std::string comment;
  CommandResult q = RunCommand({"squeue", "-h", "-t", "all", "-j", job_or_dir, "-o", "%k"});
  if (q.status == 0 && !Lines(q.out).empty()) comment = Lines(q.out).front();
  if (comment.rfind("ezone:", 0) != 0) {
    CommandResult s = RunCommand({"sacct", "-n", "-P", "-X", "-j", job_or_dir, "-o", "Comment"});
    if (s.status == 0 && !Lines(s.out).empty()) comment = Lines(s.out).front();
  }
  if (comment.rfind("ezone:", 0) != 0) {
    throw std::runtime_error(job_or_dir +
                             ": neither a campaign directory nor a job of an ezone campaign "
                             "Slurm still knows");
  }
  return comment.substr(6);
}

std::vector<std::string> Cancel(const Campaign& c, bool merge_too) {
  std::vector<std::string> ids;
  if (!c.array_job_id.empty()) ids.push_back(c.array_job_id);
  for (const Task& t : c.tasks) {
    if (c.each_node && !t.job_id.empty()) ids.push_back(t.job_id);
  }
  if (merge_too && !c.merge_job_id.empty()) ids.push_back(c.merge_job_id);
  if (ids.empty()) return ids;
  std::vector<std::string> args = {"scancel"};
  args.insert(args.end(), ids.begin(), ids.end());
  CommandResult r = RunCommand(args);
  if (r.status != 0) throw std::runtime_error("scancel: " + Trim(r.err));
  return ids;
}

std::map<std::string, std::string> TaskProperties() {
  std::map<std::string, std::string> props;
  const char* job = getenv("SLURM_JOB_ID");
  if (!job) return props;
  const char* node = getenv("SLURMD_NODENAME");
  const char* array = getenv("SLURM_ARRAY_JOB_ID");
  const char* index = getenv("SLURM_ARRAY_TASK_ID");
  if (node) props[kNodeProperty] = node;
  props["slurm.job_id"] = array && index ? std::string(array) + "_" + index : job;
  if (const char* cluster = getenv("SLURM_CLUSTER_NAME")) props["slurm.cluster"] = cluster;
  return props;
}

bool MergeJobDone(const Campaign& c, std::string* state) {
  CommandResult q =
      RunCommand({"squeue", "-h", "-t", "all", "-j", c.merge_job_id, "-o", "%i|%T|%N|%r"});
  auto m = ParseJobStates(q.out);
  *state = m.count(c.merge_job_id) ? m[c.merge_job_id].state : "";
  if (state->empty()) {
    CommandResult s = RunCommand(
        {"sacct", "-n", "-P", "-X", "-j", c.merge_job_id, "-o", "JobID,State,NodeList,ExitCode"});
    auto a = ParseJobStates(s.out);
    *state = a.count(c.merge_job_id) ? a[c.merge_job_id].state : "UNKNOWN";
  }
  return !Unfinished(*state);
}

}  // namespace ezone::slurm

#include "ezone/report/attachments.h"

#include <iostream>
#include <system_error>

namespace ezone::report {
namespace {

namespace fs = std::filesystem;

fs::path Canonical(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return path.lexically_normal();
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

bool IsUnder(const fs::path& path, const fs::path& dir) {
  const fs::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != "..";
}

bool IsFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// A copy that is as new and as large as the log needs no second copy: the
// reports are rewritten after every check.
bool UpToDate(const fs::path& source, const fs::path& copy) {
  std::error_code ec;
  if (!IsFile(copy) || fs::file_size(source, ec) != fs::file_size(copy, ec) || ec) {
    return false;
  }
  const auto source_time = fs::last_write_time(source, ec);
  const auto copy_time = fs::last_write_time(copy, ec);
  return !ec && copy_time >= source_time;
}

}  // namespace

AttachmentPlacer::AttachmentPlacer(const fs::path& report_file,
                                   const AttachmentOptions& options) {
  fs::path dir = report_file.parent_path();
  if (dir.empty()) dir = ".";
  report_file_dir_ = Canonical(dir);
  report_dir_ = options.report_dir.empty() ? report_file_dir_ : Canonical(options.report_dir);
  base_ = options.base.empty() ? report_file_dir_ : Canonical(options.base);
}

std::optional<std::string> AttachmentPlacer::Place(const std::string& path,
                                                   const fs::path& origin) const {
  if (path.empty()) return std::nullopt;
  fs::path source = path;
  if (source.is_relative() && !origin.empty()) source = origin / source;
  if (!IsFile(source)) source = report_dir_ / "console" / fs::path(path).filename();
  if (!IsFile(source)) return std::nullopt;
  source = Canonical(source);

  fs::path target = source;
  const bool in_place = IsUnder(source, report_file_dir_) ||
                        (IsUnder(report_file_dir_, report_dir_) && IsUnder(source, report_dir_));
  if (!in_place) {
    // Outside the report's directory: a CI server that archives that
    // directory would lose it, so the report keeps its own copy.
    target = report_file_dir_ / "console" / source.filename();
    if (!UpToDate(source, target)) {
      std::error_code ec;
      fs::create_directories(target.parent_path(), ec);
      if (!ec) fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        std::cerr << "ezone: warning: cannot copy " << source << " beside the report: "
                  << ec.message() << "\n";
        return std::nullopt;
      }
    }
  }
  const fs::path relative = target.lexically_relative(base_);
  return relative.empty() ? target.filename().generic_string() : relative.generic_string();
}

std::vector<CheckRecord> PlaceAttachments(const std::vector<CheckRecord>& records,
                                          const fs::path& report_file,
                                          const AttachmentOptions& options) {
  const AttachmentPlacer placer(report_file, options);
  std::vector<CheckRecord> placed = records;
  for (CheckRecord& r : placed) {
    if (!r.console_log_path.empty()) {
      if (auto where = placer.Place(r.console_log_path)) {
        r.console_log_path = *where;
      } else {
        r.properties["console_log.missing"] = r.console_log_path;
        r.console_log_path.clear();
      }
    }
    for (auto it = r.properties.begin(); it != r.properties.end();) {
      if (!IsConsoleLogProperty(it->first) || it->second.empty()) {
        ++it;
      } else if (auto where = placer.Place(it->second)) {
        it->second = *where;
        ++it;
      } else {
        std::string missing = std::move(it->second);
        const std::string key = it->first + ".missing";
        it = r.properties.erase(it);
        r.properties[key] = std::move(missing);
      }
    }
  }
  return placed;
}

}  // namespace ezone::report

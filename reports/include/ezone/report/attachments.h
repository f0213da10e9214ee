// Where the files a report attaches (the full console logs of a check) live,
// and how the report names them: relative paths that resolve from the
// report's own directory, so that a CI server (Jenkins' junit-attachments,
// GitLab's artifacts) and a browser opening the HTML page find them, and the
// report directory is self-contained.
#ifndef EZONE_REPORT_ATTACHMENTS_H_
#define EZONE_REPORT_ATTACHMENTS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

struct AttachmentOptions {
  // The run's report directory (where `ezone run --report-dir` writes
  // console/ and journal/). A log under it stays where it is when the report
  // file is under it too; any other log is copied to
  // <report file's directory>/console/. Empty: the report file's directory.
  std::filesystem::path report_dir;
  // Attachment paths are written relative to this directory (e.g. the CI
  // workspace). Empty: the report file's directory.
  std::filesystem::path base;
};

// Places the attachments of one report file (see AttachmentOptions).
class AttachmentPlacer {
 public:
  AttachmentPlacer(const std::filesystem::path& report_file,
                   const AttachmentOptions& options);

  // `path` as recorded: absolute, or relative to `origin` (empty: the
  // current directory). A file that is not there is looked for as
  // <report_dir>/console/<its name> (a report directory that was moved).
  // Returns the path to write, relative to the base, or nullopt when the
  // file is nowhere to be found or cannot be copied (warning on stderr).
  std::optional<std::string> Place(const std::string& path,
                                   const std::filesystem::path& origin = {}) const;

 private:
  std::filesystem::path report_file_dir_, report_dir_, base_;
};

// The records with console_log_path and every console log property
// (IsConsoleLogProperty) placed for `report_file`. A log that is nowhere to
// be found is not attached: its path moves to the property
// "console_log.missing" (or "<key>.missing").
std::vector<CheckRecord> PlaceAttachments(const std::vector<CheckRecord>& records,
                                          const std::filesystem::path& report_file,
                                          const AttachmentOptions& options);

}  // namespace ezone::report

#endif  // EZONE_REPORT_ATTACHMENTS_H_

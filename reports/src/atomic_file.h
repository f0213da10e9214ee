// Internal: write-then-rename, so a reader (CI, a merge step, a person
// refreshing a browser) never sees a half-written report.
#ifndef EZONE_REPORTS_SRC_ATOMIC_FILE_H_
#define EZONE_REPORTS_SRC_ATOMIC_FILE_H_

#include <filesystem>
#include <string_view>

namespace ezone::report::internal {

// Writes `content` to a temporary file next to `path`, fsyncs it and renames
// it over `path`. Creates missing parent directories. Throws
// std::system_error on failure and leaves no temporary file behind.
void WriteFileAtomically(const std::filesystem::path& path,
                         std::string_view content);

}  // namespace ezone::report::internal

#endif  // EZONE_REPORTS_SRC_ATOMIC_FILE_H_

// The HTML report's per-node view: for a campaign that ran on several nodes
// (`ezone slurm submit --each-node`, docs/slurm.md), a table of nodes ×
// checks where a node whose results differ from the other nodes' stands out.
#ifndef EZONE_REPORTS_SRC_NODE_VIEW_H_
#define EZONE_REPORTS_SRC_NODE_VIEW_H_

#include <string>
#include <string_view>
#include <vector>

#include "ezone/report/check_record.h"

namespace ezone::report {

// The property naming the node a check ran on (core/src/slurm.h).
inline constexpr std::string_view kNodeProperty = "node";

// An HTML section (<h2>Per node</h2> and its table), or "" when the records
// name fewer than two nodes. A check's column joins its runs on every node
// (its name without the "@<node>" the merge adds). A cell whose verdict and
// effect differ from those of most nodes is outlined, and its node's row is
// tagged with how many of its checks differ. Cells link to the check's
// details ("#check-<index in records>").
std::string RenderNodeView(const std::vector<CheckRecord>& records);

}  // namespace ezone::report

#endif  // EZONE_REPORTS_SRC_NODE_VIEW_H_

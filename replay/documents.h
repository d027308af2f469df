// The JSON documents twin-replay prints with --json, made in one place: the CLI commands print
// them and the web UI's API (ui/) serves the same bytes. Each function reads the log it is given
// (read-only), appends one document to *out and returns a Status; arguments are already parsed.
// Thread safety: as EventLog (readers may share one log across threads).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "eventlog/filter.h"
#include "eventlog/log.h"
#include "eventlog/process_id.h"
#include "eventlog/state.h"
#include "eventlog/status.h"
#include "replay/lineage.h"

namespace twin {

// state --at T --json. kInvalidArgument when T is before the log's first record.
Status StateDocument(const EventLog& log, uint64_t at_ns, std::string* out);
// diff T1 T2 --json. REQUIRES: t1 <= t2.
Status DiffDocument(const EventLog& log, uint64_t t1_ns, uint64_t t2_ns, std::string* out);
// events --json: JSON Lines, one event per line, at most limit (0: all). flush(buf) is called
// whenever buf grows large (it may empty it); nullptr keeps everything in *out. *more (if given)
// is set when the limit stopped the scan before the end of the range.
Status EventsJsonLines(const EventLog& log, const EventFilter& f, uint64_t limit, std::string* out,
                       const std::function<void(std::string&)>& flush = nullptr,
                       bool* more = nullptr);
// The state at T, its process tree and the roots to show: the tree's roots, or the processes
// with that pid / process id (kNotFound naming it when none is in the state). T is not checked
// against the log's range (CheckWithinLog).
struct TreeAt {
  State state;
  ProcTree tree;
  std::vector<ProcKey> roots;
};
Result<TreeAt> SelectTree(const EventLog& log, uint64_t at_ns, std::optional<int32_t> pid,
                          const std::optional<ProcessId>& id, const std::string& id_text);
// tree --at T --json, the whole tree or the subtree of a pid / process id (kNotFound naming it
// when it is not in the state).
Status TreeDocument(const EventLog& log, uint64_t at_ns, std::optional<int32_t> pid,
                    const std::optional<ProcessId>& id, const std::string& id_text,
                    std::string* out, const std::function<void(std::string&)>& flush = nullptr);
// lineage ID --json (kNotFound when no record names the process).
Status LineageDocument(const EventLog& log, const ProcessId& id, std::string* out);
// verify [--quick] --json; *ok is the verdict (the document says it too).
void VerifyDocument(const EventLog& log, bool quick, std::string* out, bool* ok);
// info --json.
Status InfoDocument(const EventLog& log, const std::string& data_dir, std::string* out);
// vm --list --json: the twin's snapshot catalogue (of one domain, or all when empty), the same
// array twin-replay-vm prints.
Status TwinCatalogueDocument(const EventLog& log, const std::string& domain, std::string* out);

}  // namespace twin

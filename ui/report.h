// `twin-replay report`: one self-contained HTML file of a time window, for case files. The same
// page code as the UI (ui/web/), inlined; the API documents of the window embedded as JSON in a
// <script type="application/json"> block with '<', '>' and '&' escaped, so that no host string
// can end the block; a Content-Security-Policy meta tag allows only the inlined script and style
// (by hash), no network at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/log.h"
#include "eventlog/status.h"
#include "forensics/redact.h"

namespace twin::ui {

struct ReportLimits {
  uint64_t max_events = 20000;  // events embedded (the timeline counts all of them)
  uint32_t max_states = 24;     // states at evenly chosen snapshot times, plus since and until
  // Applied to every argv in the report (events, states, trees, diffs), as bundles apply it to
  // their events: a report inside a bundle shows no more than the bundle's events.jsonl.
  const Redactor* redactor = nullptr;
};

Result<std::string> BuildReport(const EventLog& log, const std::string& data_dir, uint64_t since_ns,
                                uint64_t until_ns, const ReportLimits& limits = {});

// JSON text made safe inside a <script> block: '<', '>' and '&' become \u003c, \u003e, \u0026
// (JSON has them only inside strings, where the escapes mean the same).
std::string EscapeJsonForScript(std::string_view json);

// Writes path.tmp, fsyncs and renames it over path.
Status WriteFileAtomic(const std::string& path, std::string_view bytes);

}  // namespace twin::ui

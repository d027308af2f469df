// Forensic export of the event timeline to Timesketch JSONL, Elastic Common Schema (ECS) JSON
// lines, OCSF JSON lines and CSV. Streams in constant memory: records are read raw from the log
// (so every line can carry its chain hash), decoded, redacted, formatted into a buffer that is
// flushed to the sink in chunks. Host strings are hostile: JSON output uses the lossless byte
// escaping of replay/json_writer.h, CSV the one of AppendCsvText below.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "eventlog/event.h"
#include "eventlog/log.h"
#include "forensics/redact.h"
#include "eventlog/filter.h"

namespace twin {

enum class ExportFormat { kTimesketch, kEcs, kOcsf, kCsv };
Result<ExportFormat> ParseExportFormat(std::string_view name);
std::string_view ExportFormatName(ExportFormat f);

inline constexpr const char* kEcsVersion = "8.11.0";
inline constexpr const char* kOcsfVersion = "1.1.0";

// One formatter per export; keeps the host identity seen so far (kHostFacts events update it).
class LineFormatter {
 public:
  virtual ~LineFormatter() = default;
  virtual void Begin(std::string& out) {}  // e.g. the CSV header row
  // Appends exactly one line, '\n'-terminated. chain = the record's stored chain hash.
  virtual void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) = 0;
};
std::unique_ptr<LineFormatter> MakeFormatter(ExportFormat f, const HostFacts& host);

// A one-line human description, raw bytes (callers escape for their medium).
void AppendMessage(const Event& e, std::string& out);
// "Process Exec", "Socket Listen", ...: Timesketch timestamp_desc.
std::string_view TimestampDesc(EventKind k);

// CSV text cell, always quoted (RFC 4180). Cells whose first byte is = + - @ TAB CR or ' get a
// leading ' (spreadsheet formula neutralisation; the ' case keeps it reversible). Bytes 0x00-0x1F
// except LF, 0x7F, bytes that are not valid UTF-8 and genuine code points >= U+10FF00 become the
// private-use code point U+10FF00 + byte. CsvUnescapeCell reverses it exactly.
void AppendCsvText(std::string& out, std::string_view s);
std::string CsvUnescapeCell(std::string_view cell);  // cell content after RFC 4180 unquoting
std::string_view CsvHeader();

struct ExportOptions {
  EventFilter filter;
  ExportFormat format = ExportFormat::kTimesketch;
  Redactor redactor;
  HostFacts host;  // host identity at the start of the range (from the state at --since)
  std::function<void(uint64_t events)> progress;  // called about every 65536 events
};

struct ExportStats {
  uint64_t events = 0;
  uint64_t bytes = 0;
  uint64_t redacted_events = 0;
  uint64_t redacted_args = 0;
  Hash sha256{};  // of everything written
  std::array<uint64_t, kEventKindMax + 1> per_kind{};
};

using ChunkSink = std::function<Status(std::string_view chunk)>;
Result<ExportStats> ExportEvents(const EventLog& log, const ExportOptions& o, const ChunkSink& sink);

}  // namespace twin

// Self-audit: every export and bundle is recorded in the log it read, as a kAudit event with
// who/when/what attrs. When twind holds the writer lock the record goes to an append-only spool
// (<data dir>/audit-spool.jsonl, 0600) that twind folds into the log with IngestAuditSpool.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eventlog/log.h"

namespace twin {

using AuditAttrs = std::vector<std::pair<std::string, std::string>>;

// "uid=0(root) pid=123 host=..." describing the caller, for the "who" attr.
std::string AuditWho();

// Builds the kAudit event (action e.g. "export", "bundle").
Event MakeAuditEvent(const std::string& action, AuditAttrs attrs, uint64_t now_ns);

enum class AuditOutcome { kLogged, kSpooled };
// Appends to the log if no writer holds it, else to the spool. An error means neither worked.
Result<AuditOutcome> RecordAudit(const std::string& data_dir, const Event& audit);

std::string AuditSpoolPath(const std::string& data_dir);
// For twind: appends the spooled audit events (as kAudit events, "spooled"="1") and truncates the
// spool. Malformed lines are recorded as audit events saying so, never dropped silently.
Result<uint64_t> IngestAuditSpool(EventLog& log, const std::string& data_dir);

}  // namespace twin

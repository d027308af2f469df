// SQL over the log: an in-memory, read-only SQLite connection with virtual tables over one
// EventLog (see docs/SQL.md for the tables and their columns):
//   events      every record; ts_ns/time ranges, kind = and pid = are pushed down to the scan
//   processes   the folded state at a time given as the hidden column `at` (default now)
//   listeners   the same, listening sockets
//   units       the same, active units
//   snapshots   the log's state snapshots
// plus the functions time_ns(text) (any --at form to epoch ns) and rfc3339(ns).
// The connection can only read these tables: it is opened SQLITE_OPEN_READONLY on :memory:, in
// defensive mode, without extension loading or ATTACH, and an authorizer refuses every action
// but SELECT, reads of these tables and function calls (load_extension refused).
// Thread safety: one SqlSession per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventlog/log.h"
#include "eventlog/status.h"

namespace twin {

// One cell of a result: SQLite's own types.
struct SqlValue {
  enum class Type { kNull, kInteger, kReal, kText, kBlob } type = Type::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;  // text (raw bytes from the host) or blob
};

class SqlSession {
 public:
  // log must outlive the session. now_ns fixes what relative times ('-1h', 'now') mean for every
  // statement of the session.
  static Result<std::unique_ptr<SqlSession>> Open(const EventLog& log, uint64_t now_ns);
  ~SqlSession();

  // Runs one statement. columns() is called once with the result's column names, then row() per
  // row (return false to stop). Errors: kInvalidArgument for a malformed or refused statement
  // (SQLite's message, one line), the log's own error (corruption, I/O) when a table failed to
  // read it.
  Status Run(const std::string& sql, const std::function<void(const std::vector<std::string>&)>& columns,
             const std::function<bool(const std::vector<SqlValue>&)>& row);

  struct Impl;

 private:
  explicit SqlSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace twin

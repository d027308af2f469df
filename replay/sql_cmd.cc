// twin-replay sql "SELECT ...": SQL over the log (replay/sql.h), as a table, JSON or CSV.
#include <cmath>

#include <fmt/format.h>

#include "eventlog/timefmt.h"
#include "format/codec.h"
#include "format/json_writer.h"
#include "format/terminal.h"
#include "replay/cli.h"
#include "replay/sql.h"

namespace twin {
namespace {

constexpr size_t kMaxCellWidth = 80;

struct SqlArgs {
  std::string query;
  bool csv = false;
};

std::string Hex(const std::string& b) {
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Number(double d) { return std::isfinite(d) ? fmt::format("{}", d) : std::string(); }

// The cell as a human sees it: host bytes escaped (format/terminal.h), NULL spelled out.
std::string Cell(const SqlValue& v) {
  switch (v.type) {
    case SqlValue::Type::kNull: return "NULL";
    case SqlValue::Type::kInteger: return std::to_string(v.i);
    case SqlValue::Type::kReal: return Number(v.d);
    case SqlValue::Type::kText: return EscapeForTerminal(v.s);
    case SqlValue::Type::kBlob: return "x'" + Hex(v.s) + "'";
  }
  return {};
}

// Display width of escaped text: its code points (the escape leaves no control characters).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Fit(const std::string& s, size_t width) {
  if (Width(s) <= width) return s + std::string(width - Width(s), ' ');
  // Cut at a code point boundary, leaving room for "...".
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (n + 3 >= width) break;
      ++n;
    }
    out += s[i];
  }
  return out + "..." + std::string(width > n + 3 ? width - n - 3 : 0, ' ');
}

void CsvCell(std::string& out, const SqlValue& v) {
  switch (v.type) {
    case SqlValue::Type::kNull: break;
    case SqlValue::Type::kInteger: out += std::to_string(v.i); break;
    case SqlValue::Type::kReal: out += Number(v.d); break;
    case SqlValue::Type::kBlob: out += Hex(v.s); break;
    case SqlValue::Type::kText:
      // RFC 4180: quoted, '"' doubled, every other byte as it is.
      out += '"';
      for (char c : v.s) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
      break;
  }
}

int CmdSql(const CliContext& c, const SqlArgs& a) {
  const char* prefix = "twin-replay sql: ";
  if (c.json && a.csv) {
    PrintError(prefix, "give --json or --csv, not both");
    return kExitUsage;
  }
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  auto session = SqlSession::Open(*log, WallNowNs());
  if (!session.ok()) return ReportReadError(session.status(), c.data_dir);
  Output out;
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> table;  // human output: every row, for the widths
  uint64_t rows = 0;
  auto on_columns = [&](const std::vector<std::string>& cols) {
    names = cols;
    if (a.csv) {
      for (size_t i = 0; i < cols.size(); ++i) {
        if (i) out.buf() += ',';
        CsvCell(out.buf(), SqlValue{SqlValue::Type::kText, 0, 0, cols[i]});
      }
      out.buf() += "\r\n";
    } else if (c.json) {
      out.buf() += "[";
    }
  };
  auto on_row = [&](const std::vector<SqlValue>& vals) {
    if (a.csv) {
      for (size_t i = 0; i < vals.size(); ++i) {
        if (i) out.buf() += ',';
        CsvCell(out.buf(), vals[i]);
      }
      out.buf() += "\r\n";
    } else if (c.json) {
      out.buf() += rows ? ",\n" : "\n";
      JsonWriter w(out.buf());
      w.BeginObject();
      for (size_t i = 0; i < vals.size(); ++i) {
        const SqlValue& v = vals[i];
        w.Key(std::string_view(names[i]));
        switch (v.type) {
          case SqlValue::Type::kNull: w.Raw("null"); break;
          case SqlValue::Type::kInteger: w.Int(v.i); break;
          case SqlValue::Type::kReal: std::isfinite(v.d) ? w.Raw(Number(v.d)) : w.Raw("null"); break;
          case SqlValue::Type::kText: w.String(v.s); break;
          case SqlValue::Type::kBlob: w.String(Hex(v.s)); break;
        }
      }
      w.EndObject();
    } else {
      std::vector<std::string> cells;
      for (const SqlValue& v : vals) cells.push_back(Cell(v));
      table.push_back(std::move(cells));
    }
    ++rows;
    out.MaybeFlush();
    return true;
  };
  Status s = session.value()->Run(a.query, on_columns, on_row);
  if (!s.ok()) {
    out.buf().clear();  // nothing half-written: the error is the answer
    if (s.code() == Status::Code::kInvalidArgument) {
      PrintError(prefix, s.message());
      return kExitUsage;
    }
    return ReportReadError(s, c.data_dir);
  }
  if (c.json) {
    out.buf() += rows ? "\n]\n" : "]\n";
  } else if (!a.csv) {
    std::vector<std::string> head;
    std::vector<size_t> width;
    for (const auto& n : names) {
      head.push_back(EscapeForTerminal(n));
      width.push_back(std::min(kMaxCellWidth, Width(head.back())));
    }
    for (const auto& r : table) {
      for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], std::min(kMaxCellWidth, Width(r[i])));
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l;
      for (size_t i = 0; i < cells.size(); ++i) {
        if (i) l += "  ";
        l += i + 1 == cells.size() && Width(cells[i]) <= width[i] ? cells[i] : Fit(cells[i], width[i]);
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out.buf() += l + "\n";
      out.MaybeFlush();
    };
    line(head);
    std::vector<std::string> rule;
    for (size_t w : width) rule.push_back(std::string(w, '-'));
    line(rule);
    for (const auto& r : table) line(r);
    out.buf() += fmt::format("({} row{})\n", rows, rows == 1 ? "" : "s");
  }
  return 0;
}

}  // namespace

void AddSqlCommands(CLI::App& app, CliContext& ctx) {
  auto* sql = app.add_subcommand(
      "sql", "a read-only SQL query over the log: events, processes/listeners/units at any time, "
             "snapshots (docs/SQL.md)");
  auto a = std::make_shared<SqlArgs>();
  sql->add_option("QUERY", a->query, "one SELECT statement")->required();
  sql->add_flag("--csv", a->csv, "CSV (RFC 4180, cells byte-exact) instead of a table");
  sql->callback([&ctx, a] { ctx.rc = CmdSql(ctx, *a); });
  AddCommonOptions(sql, ctx);
}

}  // namespace twin

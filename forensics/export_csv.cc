#include "forensics/export_internal.h"

namespace twin::export_detail {

// ---------------------------------------------------------------------------------------------
// CSV.

namespace {

constexpr uint32_t kCsvByteBase = 0x10FF00;

void AppendByteCodePoint(std::string& out, uint8_t b) {
  const uint32_t cp = kCsvByteBase + b;
  out += static_cast<char>(0xF0 | (cp >> 18));
  out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out += static_cast<char>(0x80 | (cp & 0x3F));
}

// Length of a valid UTF-8 sequence at s[i] whose code point is below U+10FF00, else 0.
size_t CsvUtf8Len(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]) < 0x80 ? 0 : ValidUtf8SeqLen(s, i, kCsvByteBase);
}

void CsvComma(std::string& out) { out += ','; }

class CsvFormatter : public LineFormatter {
 public:
  void Begin(std::string& out) override {
    out += CsvHeader();
    out += "\r\n";
  }
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    char tb[32];
    AppendCsvText(out, Rfc3339Ns(e.ts_ns, tb));
    CsvComma(out);
    AppendUint(out, e.ts_ns / 1000);
    CsvComma(out);
    AppendCsvText(out, KindName(e.kind));
    CsvComma(out);
    AppendUint(out, key.seq);
    CsvComma(out);
    AppendInt(out, e.pid);
    CsvComma(out);
    AppendInt(out, e.ppid);
    CsvComma(out);
    AppendUint(out, e.start_ns);
    CsvComma(out);
    AppendUint(out, e.uid);
    CsvComma(out);
    AppendUint(out, e.gid);
    CsvComma(out);
    AppendCsvText(out, e.comm);
    CsvComma(out);
    AppendCsvText(out, e.exe);
    CsvComma(out);
    AppendCsvText(out, e.cwd);
    CsvComma(out);
    tmp_.clear();
    JsonWriter w(tmp_);
    w.BeginArray();
    for (const auto& a : e.argv) w.String(a);
    w.EndArray();
    AppendCsvText(out, tmp_);
    CsvComma(out);
    AppendCsvText(out, e.unit);
    CsvComma(out);
    AppendCsvText(out, e.cgroup);
    CsvComma(out);
    AppendCsvText(out, e.container_id);
    CsvComma(out);
    AppendInt(out, e.exit_code);
    CsvComma(out);
    AppendInt(out, e.signal);
    CsvComma(out);
    AppendCsvText(out, e.proto ? ProtoName(e.proto) : std::string());
    CsvComma(out);
    AppendCsvText(out, e.family ? FamilyName(e.family) : std::string());
    CsvComma(out);
    AppendCsvText(out, e.addr);
    CsvComma(out);
    AppendUint(out, e.port);
    CsvComma(out);
    AppendInt(out, e.result);
    CsvComma(out);
    AppendCsvText(out, e.unit_file_path);
    CsvComma(out);
    AppendCsvText(out, e.unit_file_sha256);
    CsvComma(out);
    tmp_.clear();
    AppendMessage(e, tmp_);
    AppendCsvText(out, tmp_);
    CsvComma(out);
    AppendCsvText(out, HashHex(chain));
    out += "\r\n";
  }

 private:
  std::string tmp_;
};

}  // namespace

std::unique_ptr<LineFormatter> MakeCsvFormatter() {
  return std::make_unique<CsvFormatter>();
}

}  // namespace twin::export_detail

namespace twin {
using namespace export_detail;

std::string_view CsvHeader() {
  return "time,timestamp_us,kind,seq,pid,ppid,start_ns,uid,gid,comm,exe,cwd,argv_json,unit,cgroup,"
         "container_id,exit_code,signal,proto,family,addr,port,result,unit_file_path,"
         "unit_file_sha256,message,chain_hash";
}

void AppendCsvText(std::string& out, std::string_view s) {
  out += '"';
  if (!s.empty()) {
    const char c0 = s[0];
    if (c0 == '=' || c0 == '+' || c0 == '-' || c0 == '@' || c0 == '\t' || c0 == '\r' || c0 == '\'') {
      out += '\'';
    }
  }
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == '"') {
      out += "\"\"";
      ++i;
    } else if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x80) {  // other control bytes and DEL
      AppendByteCodePoint(out, c);
      ++i;
    } else if (size_t n = CsvUtf8Len(s, i); n != 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      AppendByteCodePoint(out, c);
      ++i;
    }
  }
  out += '"';
}

std::string CsvUnescapeCell(std::string_view cell) {
  std::string out;
  size_t i = 0;
  if (!cell.empty() && cell[0] == '\'') i = 1;
  for (; i < cell.size(); ++i) {
    const auto c = static_cast<uint8_t>(cell[i]);
    if (c == 0xF4 && i + 3 < cell.size() && static_cast<uint8_t>(cell[i + 1]) == 0x8F &&
        (static_cast<uint8_t>(cell[i + 2]) & 0xFC) == 0xBC) {
      const uint32_t cp = (0x4u << 18) | (0x0Fu << 12) |
                          ((static_cast<uint8_t>(cell[i + 2]) & 0x3Fu) << 6) |
                          (static_cast<uint8_t>(cell[i + 3]) & 0x3Fu);
      if (cp >= kCsvByteBase) {
        out.push_back(static_cast<char>(cp - kCsvByteBase));
        i += 3;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace twin

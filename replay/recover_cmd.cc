#include "replay/recover_cmd.h"

#include <cstdio>

#include <fmt/format.h>

#include "eventlog/salvage.h"
#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "format/render.h"

namespace twin {

namespace {

std::string KeyText(const std::optional<EventKey>& k) {
  return k ? KeyToString(*k) + " (" + FormatRfc3339Ns(k->ts_ns) + ")" : std::string("-");
}

}  // namespace

int CmdRecover(const std::string& data_dir, const std::string& out, bool json) {
  if (data_dir.empty() || out.empty()) {
    fmt::print(stderr, "twin-replay: recover needs --data-dir DIR and --out NEWDIR\n");
    return 2;
  }
  auto r = SalvageLog(data_dir, out);
  if (!r.ok()) {
    fmt::print(stderr, "twin-replay: recover: {}\n", EscapeForTerminal(r.status().message()));
    return r.status().code() == Status::Code::kCorruption ? 1 : 2;
  }
  const SalvageReport& rep = r.value();
  const bool whole = rep.verify.ok() && rep.missing() == 0 && rep.unusable_files.empty();
  if (json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().FieldB("complete", whole).Field("data_dir", data_dir).Field("out", out).Field("method", rep.method)
        .FieldU("files_copied", rep.files_copied).FieldU("bytes_copied", rep.bytes_copied)
        .FieldU("records", rep.records).FieldU("missing", rep.missing());
    if (rep.first) w.Field("first_key", KeyToString(*rep.first));
    if (rep.last) w.Field("last_key", KeyToString(*rep.last));
    if (rep.expected_records) w.FieldU("vouched_records", *rep.expected_records);
    if (rep.expected_last) w.Field("vouched_last_key", KeyToString(*rep.expected_last));
    w.Key("unusable_files").BeginArray();
    for (const auto& f : rep.unusable_files) w.String(f);
    w.EndArray().Key("replayed_files").BeginArray();
    for (const auto& f : rep.replayed_files) w.String(f);
    w.EndArray().Key("missing_ranges").BeginArray();
    for (const auto& m : rep.missing_ranges) {
      w.BeginObject().FieldU("first_seq", m.first_seq).FieldU("last_seq", m.last_seq);
      if (m.after) w.Field("after_key", KeyToString(*m.after));
      if (m.before) w.Field("before_key", KeyToString(*m.before));
      w.EndObject();
    }
    w.EndArray().Key("problems").BeginArray();
    for (const auto& p : rep.verify.problems) {
      w.BeginObject().Field("key", p.key).Field("what", p.what).EndObject();
    }
    w.EndArray().EndObject();
    fmt::print("{}\n", s);
    return whole ? 0 : 1;
  }
  fmt::print("copied {} files ({} bytes) from {} to {}; the original was not changed\n",
             rep.files_copied, rep.bytes_copied, EscapeForTerminal(data_dir),
             EscapeForTerminal(out));
  fmt::print("salvaged by: {}\n", rep.method);
  fmt::print("salvaged {} records, keys {} .. {}\n", rep.records, KeyText(rep.first),
             KeyText(rep.last));
  if (rep.expected_records) {
    fmt::print("the log had vouched for {} records up to key {}\n", *rep.expected_records,
               KeyText(rep.expected_last));
  } else {
    fmt::print("how many records the log had held is not known (no chain head or seal survived)\n");
  }
  if (rep.missing()) fmt::print("LOST: {} records\n", rep.missing());
  for (const auto& m : rep.missing_ranges) {
    fmt::print("LOST: records {} .. {} ({}), {} {}\n", m.first_seq, m.last_seq, m.count(),
               m.after ? "after key " + KeyText(m.after) : std::string("at the start of the log"),
               m.before ? "and before key " + KeyText(m.before) : std::string("up to the end"));
  }
  if (!rep.replayed_files.empty()) {
    std::string names;
    for (const auto& f : rep.replayed_files) names += (names.empty() ? "" : ", ") + f;
    fmt::print("the repair read and then moved to {}/lost (not a loss): {}\n",
               EscapeForTerminal(out), EscapeForTerminal(names));
  }
  for (const auto& f : rep.unusable_files) {
    fmt::print("LOST: {} could not be read and was set aside in {}/lost\n", EscapeForTerminal(f),
               EscapeForTerminal(out));
  }
  for (size_t i = 0; i < rep.verify.problems.size() && i < 20; ++i) {
    fmt::print("verify: {}: {}\n", rep.verify.problems[i].key,
               EscapeForTerminal(rep.verify.problems[i].what));
  }
  if (rep.verify.problems.size() > 20) {
    fmt::print("verify: ... {} problems in all\n", rep.verify.problems.size());
  }
  if (whole) {
    fmt::print("OK: the salvaged log is complete and verifies; run twind with --data-dir {}\n",
               EscapeForTerminal(out));
  } else {
    fmt::print("INCOMPLETE: the salvaged log in {} lacks what is listed above; it can be read "
               "(twin-replay --data-dir {}) and twind can go on writing it (the loss stays "
               "reported by verify)\n",
               EscapeForTerminal(out), EscapeForTerminal(out));
  }
  return whole ? 0 : 1;
}

}  // namespace twin

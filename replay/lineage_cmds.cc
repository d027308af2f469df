// twin-replay tree (the process tree at T) and lineage (one process's ancestors and descendants).
#include <fmt/format.h>

#include "eventlog/process_id.h"
#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "format/terminal.h"
#include "replay/args.h"
#include "replay/cli.h"
#include "replay/documents.h"
#include "replay/lineage.h"

namespace twin {
namespace {

struct TreeArgs {
  std::string at = "now";
  std::optional<std::string> pid, id;
};

std::string Command(const Process& p) {
  return p.argv.empty() ? EscapeForTerminal(p.comm) : JoinArgv(p.argv);
}

int CmdTree(const CliContext& c, const TreeArgs& a) {
  const char* prefix = "twin-replay tree: ";
  uint64_t at = 0;
  if (!ParseTimeOrExplain(prefix, "--at", a.at, WallNowNs(), &at)) return kExitUsage;
  std::optional<int32_t> pid;
  if (!ParseOptionalArg(prefix, a.pid, ParsePidArg, "--pid", &pid)) return kExitUsage;
  std::optional<ProcessId> id;
  if (a.id) {
    auto r = ParseProcessId(*a.id);
    if (!r.ok()) {
      PrintError(prefix, "--id: " + r.status().message());
      return kExitUsage;
    }
    id = r.value();
  }
  if (pid && id) {
    PrintError(prefix, "give --pid or --id, not both");
    return kExitUsage;
  }
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (c.json) {
    Output out;
    if (Status st = TreeDocument(*log, at, pid, id, a.id.value_or(""), &out.buf(),
                                 [&](std::string&) { out.Flush(); });
        !st.ok()) {
      if (st.code() == Status::Code::kNotFound) {
        PrintError(prefix, st.message());
        return kExitProblem;
      }
      return ReportReadError(st, c.data_dir);
    }
    return 0;
  }
  if (Status s = CheckWithinLog(*log, "--at", at); !s.ok()) return ReportScanError(prefix, s);
  auto sel = SelectTree(*log, at, pid, id, a.id.value_or(""));
  if (!sel.ok()) {
    if (sel.status().code() == Status::Code::kNotFound) {
      PrintError(prefix, sel.status().message());
      return kExitProblem;
    }
    return ReportReadError(sel.status(), c.data_dir);
  }
  const State& s = sel.value().state;
  const ProcTree& t = sel.value().tree;
  const std::vector<ProcKey>& roots = sel.value().roots;
  const std::string tag = BootTag(s.host.boot_id);
  Output out;
  {
    out.buf() += fmt::format("Process tree at {} ({} processes){}\n", FormatRfc3339Ns(at),
                             s.processes.size(),
                             s.uncertain ? "  [UNCERTAIN: events were lost since " +
                                               FormatRfc3339Ns(s.uncertain_since_ns) + "]"
                                         : "");
    for (const ProcKey& r : roots) {
      WalkTree(
          t, r,
          [&](const ProcKey& k, const std::vector<bool>& last) {
            const Process& p = s.processes.at(k);
            std::string line;
            for (size_t i = 0; i + 1 < last.size(); ++i) line += last[i] ? "   " : "│  ";
            if (!last.empty()) line += last.back() ? "└─ " : "├─ ";
            line += fmt::format("{} {}  [{}]", p.pid, Command(p), FormatProcessId(tag, p.pid, p.start_ns));
            if (last.empty() && p.ppid != 0 && !ParentIn(s, p)) {
              line += fmt::format("  (parent {} not in the state: exited, not yet seen reparented)", p.ppid);
            }
            out.buf() += line + "\n";
            out.MaybeFlush();
          },
          [](const ProcKey&) {});
    }
  }
  return 0;
}

std::string EventLine(const KeyedEvent& ke, const std::string& tag) {
  const Event& e = ke.event;
  return fmt::format("{:<30} {:<6} {:<38} {}", FormatRfc3339Ns(e.ts_ns), KindName(e.kind),
                     FormatProcessId(tag, e.pid, e.start_ns), EventSummary(e));
}

int CmdLineage(const CliContext& c, const std::string& id_text) {
  const char* prefix = "twin-replay lineage: ";
  auto id = ParseProcessId(id_text);
  if (!id.ok()) {
    PrintError(prefix, id.status().message());
    return kExitUsage;
  }
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (c.json) {
    Output out;
    if (Status st = LineageDocument(*log, id.value(), &out.buf()); !st.ok()) {
      if (st.code() == Status::Code::kNotFound) {
        PrintError(prefix, st.message());
        return kExitProblem;
      }
      return ReportReadError(st, c.data_dir);
    }
    return 0;
  }
  auto lr = FindLineage(*log, id.value());
  if (!lr.ok()) {
    if (lr.status().code() == Status::Code::kNotFound) {
      PrintError(prefix, lr.status().message());
      return kExitProblem;
    }
    return ReportReadError(lr.status(), c.data_dir);
  }
  const Lineage& l = lr.value();
  const std::string& tag = l.id.boot;
  Output out;
  out.buf() += fmt::format("Process {}  pid {}  first seen {} ({}){}\n",
                           FormatProcessId(tag, l.id.pid, l.id.start_ns), l.id.pid,
                           FormatRfc3339Ns(l.start.key.ts_ns), KindName(l.start.event.kind),
                           l.uncertain ? "  [UNCERTAIN: events were lost around its start]" : "");
  out.buf() += fmt::format("  {}\n", Command(l.self));
  out.buf() += fmt::format("\nAncestors at its start ({}{})\n", l.ancestors.size(),
                           l.ancestry_complete ? "" : ", the chain ends at a process not in the state");
  for (const Process& p : l.ancestors) {
    out.buf() += fmt::format("  {:>7} {:<38} {}\n", p.pid, FormatProcessId(tag, p.pid, p.start_ns), Command(p));
  }
  out.buf() += fmt::format("\nDescendants during its lifetime ({})\n", l.descendants.size());
  out.buf() += fmt::format("{:<30} {:<6} {:<38} {}\n", "TIME", "KIND", "PROCESS", "DETAIL");
  for (const auto& e : l.events) {
    out.buf() += EventLine(KeyedEvent{e.key, e.event}, tag) + "\n";
    out.MaybeFlush();
  }
  out.buf() += l.exit ? fmt::format("\nExited {}\n", FormatRfc3339Ns(l.exit->key.ts_ns))
                      : std::string("\nNo exit in the log: still running at its end (or the exit was lost)\n");
  return 0;
}

}  // namespace

void AddLineageCommands(CLI::App& app, CliContext& ctx) {
  auto* tree = app.add_subcommand("tree", "the process tree at T (from the folded state)");
  auto ta = std::make_shared<TreeArgs>();
  tree->add_option("--at", ta->at, "time: RFC 3339, epoch s/ns, or relative (-5m)")->capture_default_str();
  tree->add_option("--pid", ta->pid, "only the subtree of this pid");
  tree->add_option("--id", ta->id, "only the subtree of this process id (see lineage)");
  tree->callback([&ctx, ta] { ctx.rc = CmdTree(ctx, *ta); });

  auto* lineage = app.add_subcommand(
      "lineage", "one process's ancestors at its start and its descendants over its lifetime");
  auto id = std::make_shared<std::string>();
  lineage->add_option("ID", *id, "process id (<boot>-<start_ns>-<pid>, the id field of --json)")->required();
  lineage->callback([&ctx, id] { ctx.rc = CmdLineage(ctx, *id); });

  for (auto* sub : {tree, lineage}) AddCommonOptions(sub, ctx);
}

}  // namespace twin

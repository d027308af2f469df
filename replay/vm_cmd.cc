#include "replay/vm_cmd.h"

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eventlog/log.h"
#include "eventlog/timefmt.h"
#include "replay/args.h"
#include "replay/terminal.h"
#include "vm/catalogue.h"
#include "vm/twin.h"

namespace twin {
namespace {

constexpr const char* kUsage =
    "usage: twin-replay [--data-dir DIR] vm --list [--json] [--domain NAME]\n"
    "       twin-replay [--data-dir DIR] vm --at T [--replace] [--domain NAME] [--uri URI]\n"
    "                                       [--image-dir DIR] [--overlay-root DIR] [--json]\n"
    "       twin-replay vm --domains [--json] [--domain NAME] [--uri URI] [--overlay-root DIR]\n"
    "       twin-replay vm --remove NAME [--domain NAME] [--uri URI] [--overlay-root DIR]\n"
    "  --list      the twin snapshot catalogue (snapshot, host state time, overlay, chain)\n"
    "  --at T      boot a twin domain reflecting the host at T (RFC 3339, epoch s/ns, -5m):\n"
    "              the newest snapshot at or before T plus the delta to T. The domain is\n"
    "              named <domain>-at-<time> unless --replace (replaces the live twin; a\n"
    "              running twind will bring it forward again at its next significant change)\n"
    "  --domains   the <domain>-at-<time> copies made by --at (state time, source, running)\n"
    "  --remove N  stop and undefine the copy N and delete its overlays (never the live twin)\n"
    "  --overlay-root DIR  where the twin's overlays and domain records live\n"
    "              (default /var/lib/libvirt/images/safetytwin)\n";

struct VmArgs {
  std::string data_dir = kDefaultDataDir;
  bool list = false;
  bool domains = false;
  std::string remove;
  std::string at;
  bool replace = false;
  bool json = false;
  std::string domain = "safetytwin";
  std::string uri = "qemu:///system";
  std::string image_dir;
  std::string overlay_root = vm::kDefaultOverlayRoot;
};

// Host- and libvirt-derived text (ids, domains, paths, messages) for the terminal, as a C string
// for printf: a ring of 8 buffers, enough for the arguments of one printf.
const char* E(const std::string& s) {
  thread_local std::string buf[8];
  thread_local size_t next = 0;
  std::string& b = buf[next++ % 8];
  b = EscapeForTerminal(s);
  return b.c_str();
}

std::string Fmt(uint64_t ns) { return ns ? FormatRfc3339Ns(ns).substr(0, 23) + "Z" : "-"; }

int List(const VmArgs& a, const EventLog& log) {
  vm::EventLogTwinStore store(const_cast<EventLog*>(&log));  // Scan only
  vm::Catalogue cat(&store);
  auto list = cat.List(a.domain);
  if (!list.ok()) {
    std::fprintf(stderr, "twin-replay vm: cannot read the twin catalogue: %s\n",
                 E(list.status().ToString()));
    return 1;
  }
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *list) arr.push_back(nlohmann::json::parse(vm::SnapshotToJson(r)));
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  if (list->empty()) {
    std::printf("no twin snapshots for domain %s in %s\n", E(a.domain), E(a.data_dir));
    return 0;
  }
  std::printf("%-40s %-24s %-24s %8s %8s %5s %-10s %s\n", "SNAPSHOT", "HOST STATE AT", "TAKEN",
              "LIBVIRT", "TOTAL", "DEPTH", "FLAGS", "IMAGE");
  for (const auto& r : *list) {
    std::string flags = r.pruned ? "pruned" : (r.consistent ? "ok" : "partial");
    std::printf("%-40s %-24s %-24s %6.1fms %6.1fms %5u %-10s %s\n", E(r.id),
                Fmt(r.state_ts_ns).c_str(), Fmt(r.created_ns).c_str(), r.snapshot_ms, r.total_ms,
                r.chain_depth, flags.c_str(), E(r.image));
  }
  return 0;
}

// The twin as the arguments name it. The log is read-only here: progress goes to stderr
// instead of kTwinAction events.
Result<std::unique_ptr<vm::TwinVm>> OpenTwin(const VmArgs& a, vm::Catalogue* cat) {
  vm::TwinOptions o;
  o.domain = a.domain;
  o.uri = a.uri;
  o.image_dir = a.image_dir;
  o.overlay_root = a.overlay_root;
  auto sink = [](const Event& e) { std::fprintf(stderr, "[twin] %s\n", E(e.reason)); };
  return vm::TwinVm::Open(o, cat, sink);
}

int At(const VmArgs& a, EventLog& log) {
  auto t = ParseTimeArg("--at", a.at, WallNowNs());
  if (!t.ok()) {
    PrintError("twin-replay vm: ", t.status().message());
    return 2;
  }
  // Before the first record nothing is known: a twin "as the host was" then would be a lie.
  if (Status s = CheckWithinLog(log, "--at", *t); !s.ok()) {
    PrintError("twin-replay vm: ", s.message());
    return s.code() == Status::Code::kCorruption ? 1 : 2;
  }
  vm::EventLogTwinStore store(&log);
  vm::Catalogue cat(&store);
  auto twin = OpenTwin(a, &cat);
  if (!twin.ok()) {
    std::fprintf(stderr, "twin-replay vm: %s\n", E(twin.status().ToString()));
    return 1;
  }
  auto snap = cat.AtOrBefore(a.domain, *t);
  std::fprintf(stderr, "[twin] host at %s: starting from %s\n", Fmt(*t).c_str(),
               snap.ok() && snap->has_value() ? E((*snap)->id)
                                              : "the base image (no snapshot at or before T)");
  auto state_at = [&log](uint64_t ts) { return StateAt(log, ts); };
  auto name = (*twin)->BringUpAt(*t, a.replace, state_at);
  if (!name.ok()) {
    std::fprintf(stderr, "twin-replay vm: %s\n", E(name.status().ToString()));
    return 1;
  }
  if (a.json) {
    nlohmann::json j = {{"domain", *name},
                        {"at_ns", *t},
                        {"at", Fmt(*t)},
                        {"snapshot", snap.ok() && snap->has_value() ? (*snap)->id : ""},
                        {"uri", a.uri}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("twin domain %s is up and reflects the host at %s (libvirt %s)\n", E(*name),
                Fmt(*t).c_str(), E(a.uri));
  }
  return 0;
}

// --remove: one `vm --at` copy, found by its record beside the overlays.
int RemoveCopy(const VmArgs& a, vm::TwinVm& twin) {
  if (Status s = twin.RemoveAtDomain(a.remove); !s.ok()) {
    std::fprintf(stderr, "twin-replay vm: %s\n", E(s.ToString()));
    return s.code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  std::printf("removed twin copy %s\n", E(a.remove));
  return 0;
}

// --domains: the `vm --at` copies.
int ListCopies(const VmArgs& a, vm::TwinVm& twin) {
  auto copies = twin.AtDomains();
  if (!copies.ok()) {
    std::fprintf(stderr, "twin-replay vm: %s\n", E(copies.status().ToString()));
    return 1;
  }
  if (!a.json && copies->empty()) {
    std::printf("no `vm --at` copies of twin %s\n", E(a.domain));
    return 0;
  }
  constexpr const char* kRow = "%-44s %-24s %-8s %-8s %s\n";
  if (!a.json) std::printf(kRow, "DOMAIN", "REFLECTS HOST AT", "RUNNING", "DELTA", "FROM");
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : *copies) {
    auto active = twin.virt().IsActive(d.domain);
    const std::string from = d.from_snapshot ? d.source_snapshot_id : "base image";
    if (a.json) {
      arr.push_back({{"domain", d.domain},
                     {"state_ts_ns", d.applied_state_ts_ns},
                     {"state_at", Fmt(d.applied_state_ts_ns)},
                     {"running", active.ok() ? nlohmann::json(*active) : nlohmann::json()},
                     {"delta_ok", d.applied_ok},
                     {"from", from},
                     {"overlay", d.active_overlay}});
    } else {
      std::printf(kRow, E(d.domain), Fmt(d.applied_state_ts_ns).c_str(),
                  !active.ok() ? "?" : (*active ? "yes" : "no"), d.applied_ok ? "ok" : "failed",
                  E(from));
    }
  }
  if (a.json) std::printf("%s\n", arr.dump(2).c_str());
  return 0;
}

}  // namespace

int RunVmCommand(int argc, char** argv) {
  VmArgs a;
  bool seen_vm = false;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto need = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "twin-replay vm: %s needs a value\n%s", what, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "vm" && !seen_vm) seen_vm = true;
    else if (s == "--data-dir") a.data_dir = need("--data-dir");
    else if (s == "--list") a.list = true;
    else if (s == "--domains") a.domains = true;
    else if (s == "--remove") a.remove = need("--remove");
    else if (s == "--at") a.at = need("--at");
    else if (s == "--replace") a.replace = true;
    else if (s == "--json") a.json = true;
    else if (s == "--domain") a.domain = need("--domain");
    else if (s == "--uri") a.uri = need("--uri");
    else if (s == "--image-dir") a.image_dir = need("--image-dir");
    else if (s == "--overlay-root") a.overlay_root = need("--overlay-root");
    else if (s == "-h" || s == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "twin-replay vm: unknown argument '%s'\n%s", E(s), kUsage);
      return 2;
    }
  }
  if (a.list + !a.at.empty() + a.domains + !a.remove.empty() != 1) {
    std::fprintf(stderr,
                 "twin-replay vm: give exactly one of --list, --at T, --domains or --remove NAME\n%s",
                 kUsage);
    return 2;
  }
  if (a.domains || !a.remove.empty()) {  // libvirt and the overlays, no log
    auto twin = OpenTwin(a, nullptr);
    if (!twin.ok()) {
      std::fprintf(stderr, "twin-replay vm: %s\n", E(twin.status().ToString()));
      return 1;
    }
    return a.domains ? ListCopies(a, **twin) : RemoveCopy(a, **twin);
  }
  if (Status s = CheckDataDirArg("--data-dir", a.data_dir); !s.ok()) {
    PrintError("twin-replay vm: ", s.message());
    return 2;
  }
  auto log = EventLog::OpenReader(a.data_dir);
  if (!log.ok()) {
    PrintError("twin-replay vm: ", "cannot open " + a.data_dir + ": " + log.status().ToString());
    return 1;
  }
  return a.list ? List(a, **log) : At(a, **log);
}

}  // namespace twin

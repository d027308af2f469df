#include "replay/vm_cmd.h"

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eventlog/log.h"
#include "eventlog/timefmt.h"
#include "replay/args.h"
#include "replay/cli.h"
#include "format/terminal.h"
#include "vm/catalogue.h"
#include "userspace/config.h"
#include "vm/twin.h"
#include "vm/twin_settings.h"

namespace twin {
namespace {

struct VmArgs {
  std::string data_dir = kDefaultDataDir;  // the CLI's --data-dir
  bool list = false;
  bool domains = false;
  std::string remove;
  std::string at;
  bool replace = false;
  bool json = false;
  // "" = not given: twind.toml's [twin] (--config), then the defaults (vm/twin_settings.h).
  std::string config = "/etc/safetytwin/twind.toml";
  std::string domain, uri, image_dir, overlay_root;
  vm::TwinSettings settings;  // resolved by RunVm
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
  auto list = cat.List(a.settings.domain);
  if (!list.ok()) {
    std::fprintf(stderr, "twin-replay vm: cannot read the twin catalogue: %s\n",
                 E(list.status().ToString()));
    return 1;
  }
  if (a.json) {
    const std::string doc = vm::SnapshotListDocument(*list);
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    return 0;
  }
  if (list->empty()) {
    std::printf("no twin snapshots for domain %s in %s\n", E(a.settings.domain), E(a.data_dir));
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
  static_cast<vm::TwinSettings&>(o) = a.settings;
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
  auto snap = cat.AtOrBefore(a.settings.domain, *t);
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
                        {"uri", a.settings.uri}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("twin domain %s is up and reflects the host at %s (libvirt %s)\n", E(*name),
                Fmt(*t).c_str(), E(a.settings.uri));
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
    std::printf("no `vm --at` copies of twin %s\n", E(a.settings.domain));
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
  if (a.json) std::printf("%s\n", arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

// The twin's settings: twind.toml's [twin] and [host_config] (so that `vm --at` builds the twin
// twind would), the environment's overrides, then the flags.
Status ResolveSettings(VmArgs* a) {
  capture::DaemonConfig cfg;
  const bool explicit_config = a->config != "/etc/safetytwin/twind.toml";
  if (Status s = capture::LoadTomlConfig(a->config, explicit_config, &cfg); !s.ok()) return s;
  a->settings = cfg.twin;
  a->settings.host_config = cfg.host_config.enabled && cfg.host_config.twin;
  if (Status s = vm::ApplyTwinEnvironment(&a->settings); !s.ok()) return s;
  if (!a->domain.empty()) a->settings.domain = a->domain;
  if (!a->uri.empty()) a->settings.uri = a->uri;
  if (!a->image_dir.empty()) a->settings.image_dir = a->image_dir;
  if (!a->overlay_root.empty()) a->settings.overlay_root = a->overlay_root;
  return capture::ValidateTwinSettings(a->settings, "");
}

int RunVm(VmArgs& a) {
  if (Status s = ResolveSettings(&a); !s.ok()) {
    PrintError("twin-replay vm: ", s.message());
    return 2;
  }
  if (a.list + !a.at.empty() + a.domains + !a.remove.empty() != 1) {
    PrintError("twin-replay vm: ",
               "give exactly one of --list, --at T, --domains or --remove NAME (see twin-replay vm --help)");
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

}  // namespace

void AddVmCommands(CLI::App& app, CliContext& ctx) {
  auto* vm = app.add_subcommand("vm", "the twin VM at any time (--at T), the snapshot catalogue (--list)");
  vm->footer(
      "Exactly one of --list, --at, --domains, --remove.\n"
      "--at boots a twin domain reflecting the host at T: the newest snapshot at or before T plus\n"
      "the delta to T, named <domain>-at-<time> unless --replace (which replaces the live twin; a\n"
      "running twind brings it forward again at its next significant change).");
  auto a = std::make_shared<VmArgs>();
  vm->add_flag("--list", a->list, "the twin snapshot catalogue (snapshot, host state time, overlay, chain)");
  vm->add_option("--at", a->at, "boot a twin domain reflecting the host at T (RFC 3339, epoch s/ns, -5m)");
  vm->add_flag("--domains", a->domains, "the <domain>-at-<time> copies made by --at");
  vm->add_option("--remove", a->remove, "stop and undefine the copy NAME and delete its overlays (never the live twin)");
  vm->add_flag("--replace", a->replace, "with --at: replace the live twin");
  vm->add_option("--config", a->config,
                 "twind's config file: its [twin] and [host_config] tables set up the twin")
      ->capture_default_str();
  vm->add_option("--domain", a->domain, "the twin's libvirt domain (default: [twin] domain, else safetytwin)");
  vm->add_option("--uri", a->uri, "libvirt connection URI (default: [twin] uri, else qemu:///system)");
  vm->add_option("--image-dir", a->image_dir, "where the twin's base image lives (default: [twin] image_dir)");
  vm->add_option("--overlay-root", a->overlay_root,
                 std::string("where the twin's overlays and domain records live (default: [twin] "
                             "overlay_root, else ") + vm::kDefaultOverlayRoot + ")");
  AddCommonOptions(vm, ctx);
  vm->callback([&ctx, a] {
    VmArgs args = *a;
    args.data_dir = ctx.data_dir;
    args.json = ctx.json;
    ctx.rc = RunVm(args);
  });
}

int RunVmCommand(int argc, char** argv) {
  CLI::App app{"twin-replay vm: the twin VM at any time and its snapshot catalogue"};
  app.require_subcommand(1);
  CliContext ctx;
  app.add_option("--data-dir", ctx.data_dir, "safetytwin data dir")->capture_default_str();
  app.add_flag("--json", ctx.json, "machine-readable output");
  AddVmCommands(app, ctx);
  return RunCli(app, ctx, argc, argv);
}

}  // namespace twin

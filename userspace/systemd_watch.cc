#include "userspace/systemd_watch.h"

#include <systemd/sd-bus.h>

#include <cstring>

#include "userspace/cgroup_names.h"
#include "userspace/proc_read.h"

namespace twin::capture {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

std::string ActiveState(sd_bus* bus, const char* unit) {
  sd_bus_message* reply = nullptr;
  sd_bus_error err = SD_BUS_ERROR_NULL;
  std::string state = "inactive";  // GetUnit fails for units that are not loaded: not active
  if (sd_bus_call_method(bus, kDest, kPath, kManager, "GetUnit", &err, &reply, "s", unit) >= 0) {
    const char* path = nullptr;
    if (sd_bus_message_read(reply, "o", &path) >= 0 && path) {
      char* value = nullptr;
      if (sd_bus_get_property_string(bus, kDest, path, "org.freedesktop.systemd1.Unit",
                                     "ActiveState", &err, &value) >= 0 && value) {
        state = value;
        free(value);
      }
    }
  }
  sd_bus_error_free(&err);
  sd_bus_message_unref(reply);
  return state;
}

int OnSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<std::pair<sd_bus*, SystemdWatcher::Fn*>*>(userdata);
  const char* member = sd_bus_message_get_member(m);
  const char* unit = nullptr;
  std::string cause = member ? member : "";
  if (member && strcmp(member, "JobRemoved") == 0) {
    uint32_t id;
    const char* job;
    const char* result;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
    cause += std::string(":") + result;
  } else {
    const char* path;
    if (sd_bus_message_read(m, "so", &unit, &path) < 0) return 0;
  }
  if (!unit || !IsUnitName(unit)) return 0;
  UnitSignal s{unit, ActiveState(self->first, unit), cause};
  (*self->second)(s);
  return 0;
}

}  // namespace

bool SystemdIsPid1() {
  std::string comm = ReadFileLimited("/proc/1/comm", 64);
  return comm == "systemd\n";
}

Status SystemdWatcher::Start(Fn fn) {
  fn_ = std::move(fn);
  int r = sd_bus_open_system(&bus_);
  if (r < 0) return Status::Unavailable(std::string("system bus: ") + strerror(-r));
  sd_bus_error err = SD_BUS_ERROR_NULL;
  r = sd_bus_call_method(bus_, kDest, kPath, kManager, "Subscribe", &err, nullptr, "");
  sd_bus_error_free(&err);
  if (r < 0) return Status::Unavailable(std::string("systemd Subscribe: ") + strerror(-r));
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void SystemdWatcher::Recheck(const std::string& unit) {
  std::lock_guard<std::mutex> l(recheck_mu_);
  rechecks_.push_back(unit);
}

void SystemdWatcher::DrainRechecks() {
  std::vector<std::string> units;
  {
    std::lock_guard<std::mutex> l(recheck_mu_);
    units.swap(rechecks_);
  }
  for (const auto& u : units) fn_(UnitSignal{u, ActiveState(bus_, u.c_str()), "cgroup-removed"});
}

void SystemdWatcher::Loop() {
  std::pair<sd_bus*, Fn*> ctx{bus_, &fn_};
  for (const char* member : {"JobRemoved", "UnitNew", "UnitRemoved"}) {
    if (sd_bus_match_signal(bus_, nullptr, kDest, kPath, kManager, member, OnSignal, &ctx) < 0)
      return;
  }
  while (!stop_) {
    DrainRechecks();
    int r = sd_bus_process(bus_, nullptr);
    if (r < 0) break;
    if (r > 0) continue;
    sd_bus_wait(bus_, 200000);  // µs; bounds stop and recheck latency
  }
  running_ = false;
}

void SystemdWatcher::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (bus_) sd_bus_flush_close_unref(bus_);
  bus_ = nullptr;
}

}  // namespace twin::capture

// What a cgroup path says about its owner: the systemd unit and the container id. Pure string
// functions (the input is host-controlled and never executed or interpolated).
#pragma once

#include <string>
#include <string_view>

namespace twin::capture {

// True for a systemd unit cgroup leaf we track: "*.service" or "*.scope".
bool IsUnitName(std::string_view name);
// Innermost *.service / *.scope component of a cgroup path ("" if none).
std::string UnitFromCgroup(std::string_view cgroup_path);
// 64-hex container id in the path (docker-<id>.scope, /docker/<id>, libpod-, cri-containerd-...).
std::string ContainerIdFromCgroup(std::string_view cgroup_path);
// Last path component.
std::string_view Basename(std::string_view path);

}  // namespace twin::capture

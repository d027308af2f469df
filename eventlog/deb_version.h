// Debian version ordering (deb-version(7): epoch, upstream, revision, '~' before anything), as
// dpkg --compare-versions; shared by twind's package capture and the twin's package planner.
#pragma once

#include <string_view>

namespace twin {

// <0, 0, >0 as a < b, a == b, a > b.
int CompareDebianVersions(std::string_view a, std::string_view b);
// version op wanted, op one of = >= <= >> <<; an unknown op is false.
bool SatisfiesDebianConstraint(std::string_view version, std::string_view op,
                               std::string_view wanted);

}  // namespace twin

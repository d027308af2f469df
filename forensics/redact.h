// Redaction of secrets in argv before export or bundling. Rules work on argv elements (raw
// bytes, matched ASCII-case-insensitively):
//   "NAME=" rule   an element starting with NAME= keeps "NAME=" and loses its value;
//   "NAME" rule    an element equal to NAME makes the *next* element redacted, and
//                  NAME=value is handled as above.
// The default set (see DefaultRedactRules) adds: any element "X=value" or "--X=value" whose X
// contains password/passwd/secret/token/apikey/api_key/api-key/credential/private_key, the
// same keywords as flags followed by a separate value, and the password in URL userinfo
// (scheme://user:PASSWORD@host). Redacted values become kRedacted. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eventlog/event.h"

namespace twin {

inline constexpr const char* kRedacted = "[REDACTED]";

std::vector<std::string> DefaultRedactRules();

class Redactor {
 public:
  Redactor() = default;
  Redactor(std::vector<std::string> rules, bool keyword_defaults);
  // Rewrites e.argv in place; returns the number of argv elements changed.
  int Apply(Event& e) const;
  int ApplyArgv(std::vector<std::string>& argv) const;
  bool enabled() const { return !rules_.empty() || keyword_defaults_; }
  const std::vector<std::string>& rules() const { return rules_; }
  bool keyword_defaults() const { return keyword_defaults_; }

 private:
  bool RedactElement(std::string& arg, bool* next) const;
  std::vector<std::string> rules_;  // lower-cased
  bool keyword_defaults_ = false;
};

}  // namespace twin

#include "forensics/redact.h"

#include <algorithm>
#include <string_view>

namespace twin {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithCi(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

bool EqualsCi(std::string_view s, std::string_view lower) {
  return s.size() == lower.size() && StartsWithCi(s, lower);
}

constexpr std::string_view kKeywords[] = {"password", "passwd", "secret", "token", "apikey",
                                          "api_key", "api-key", "credential", "private_key",
                                          "private-key"};

bool NameHasKeyword(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = Lower(name[i]);
    if (c != 'p' && c != 's' && c != 't' && c != 'a' && c != 'c') continue;  // keyword initials
    for (auto k : kKeywords) {
      if (k[0] == c && StartsWithCi(name.substr(i), k)) return true;
    }
  }
  return false;
}

// "--password", "-token", "--api-key": a flag made only of dashes and a keyword-bearing name.
bool IsKeywordFlag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  size_t i = arg.find_first_not_of('-');
  if (i == std::string_view::npos) return false;
  std::string_view name = arg.substr(i);
  if (name.find('=') != std::string_view::npos) return false;
  return NameHasKeyword(name);
}

// scheme://user:secret@host -> scheme://user:[REDACTED]@host. Returns true if changed.
bool RedactUrlPassword(std::string& arg) {
  size_t scheme = arg.find("://");
  if (scheme == std::string::npos) return false;
  size_t start = scheme + 3;
  size_t end = arg.find_first_of("/?#", start);
  std::string_view authority(arg.data() + start, (end == std::string::npos ? arg.size() : end) - start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return false;
  size_t colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) return false;
  if (std::string_view(authority.data() + colon + 1, at - colon - 1) == kRedacted) return false;
  arg.replace(start + colon + 1, at - colon - 1, kRedacted);
  return true;
}

}  // namespace

std::vector<std::string> DefaultRedactRules() {
  return {"--password", "--passwd", "--pass", "--token", "--secret", "--api-key", "--apikey",
          "--access-key", "--secret-key", "--private-key", "--client-secret", "--auth-token",
          "-p=", "--key="};
}

Redactor::Redactor(std::vector<std::string> rules, bool keyword_defaults)
    : keyword_defaults_(keyword_defaults) {
  for (auto& r : rules) {
    if (r.empty()) continue;
    std::transform(r.begin(), r.end(), r.begin(), Lower);
    rules_.push_back(std::move(r));
  }
}

bool Redactor::RedactElement(std::string& arg, bool* next) const {
  bool changed = false;
  for (const auto& rule : rules_) {
    if (rule.back() == '=') {
      if (StartsWithCi(arg, rule) && arg.substr(rule.size()) != kRedacted) {
        arg.replace(rule.size(), std::string::npos, kRedacted);
        return true;
      }
      continue;
    }
    if (EqualsCi(arg, rule)) {
      *next = true;
      return false;
    }
    if (StartsWithCi(arg, rule) && arg.size() > rule.size() && arg[rule.size()] == '=') {
      if (arg.substr(rule.size() + 1) != kRedacted) {
        arg.replace(rule.size() + 1, std::string::npos, kRedacted);
        return true;
      }
      return false;
    }
  }
  if (keyword_defaults_) {
    size_t eq = arg.find('=');
    if (eq != std::string::npos && eq > 0 && NameHasKeyword(std::string_view(arg).substr(0, eq))) {
      if (arg.substr(eq + 1) != kRedacted) {
        arg.replace(eq + 1, std::string::npos, kRedacted);
        return true;
      }
      return false;
    }
    if (IsKeywordFlag(arg)) {
      *next = true;
      return false;
    }
    changed = RedactUrlPassword(arg);
  }
  return changed;
}

int Redactor::ApplyArgv(std::vector<std::string>& argv) const {
  if (!enabled()) return 0;
  int n = 0;
  bool redact_next = false;
  for (auto& a : argv) {
    if (redact_next) {
      redact_next = false;
      if (a != kRedacted) {
        a = kRedacted;
        ++n;
      }
      continue;
    }
    if (RedactElement(a, &redact_next)) ++n;
  }
  return n;
}

int Redactor::Apply(Event& e) const { return ApplyArgv(e.argv); }

}  // namespace twin

#include "eventlog/status.h"

namespace twin {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "not found"; break;
    case Code::kCorruption: name = "corruption"; break;
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kIOError: name = "I/O error"; break;
    case Code::kBusy: name = "busy"; break;
    case Code::kUnavailable: name = "unavailable"; break;
    case Code::kTampered: name = "tampered"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace twin

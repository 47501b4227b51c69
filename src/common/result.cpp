#include "tocsin/common/result.h"

namespace tocsin {

std::string_view KindName(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::kInvalid:
      return "invalid";
    case Error::Kind::kNotFound:
      return "not found";
    case Error::Kind::kTransient:
      return "transient";
    case Error::Kind::kPermanent:
      return "permanent";
    case Error::Kind::kIo:
      return "i/o";
    case Error::Kind::kConflict:
      return "conflict";
    case Error::Kind::kUnauthorized:
      return "unauthorized";
  }
  return "unknown";
}

std::string Error::ToString() const {
  std::string out(KindName(kind_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace tocsin

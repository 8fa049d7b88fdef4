#include "util/error.h"

#include <cerrno>
#include <cstring>

namespace hh {

void fail_errno(const std::string& what) {
  throw SystemError(what + ": " + std::strerror(errno));
}

}  // namespace hh

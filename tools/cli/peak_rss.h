// Peak resident memory of this process so far, for the commands that report cost.
#pragma once

#include <sys/resource.h>

namespace edgeclr::cli {

inline double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace edgeclr::cli

// `edgeclr convert` in a build without the converter (EDGECLR_BUILD_CONVERTER=OFF, as
// cross builds for the Raspberry Pi are): the converter links libonnx and protobuf and runs
// on the host; its .eclr output is the same file on every machine.
#include <cstdio>

#include "cli/cli_common.h"
#include "cli/commands.h"

namespace edgeclr::cli {

int run_convert(int, char**) {
  std::fprintf(stderr,
               "edgeclr: convert: this edgeclr was built without the ONNX converter "
               "(EDGECLR_BUILD_CONVERTER=OFF); convert on the host and copy the .eclr file\n");
  return kExitUsage;
}

}  // namespace edgeclr::cli

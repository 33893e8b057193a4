// Runs one conformance case in a forked child, so that a crash (an XNNPACK assert, a
// segfault, an abort in protobuf) or a hang costs that case, not the whole run.
#pragma once

#include <functional>

#include "conformance/conformance_case.h"

namespace edgeclr::conformance {

// Forks, runs `run` in the child and hands its CaseResult back through a pipe. A child
// killed by a signal, timed out after `timeout_seconds`, or exiting without a result is
// a kFailed result naming what happened and the last line the child wrote to stderr
// (the child's stderr is captured, not shown).
CaseResult run_isolated(const std::function<CaseResult()>& run, unsigned timeout_seconds);

}  // namespace edgeclr::conformance

// One ONNX backend test case (a directory with model.onnx and test_data_set_0/) through
// edgeclr: convert, build the backbone, run, and compare with ONNX's expected output.
#pragma once

#include <string>

namespace edgeclr::conformance {

enum class Outcome : char {
  kPassed = 'P',
  kRejected = 'R',  // edgeclr says it cannot take this model (converter or XNNPACK limits)
  kFailed = 'F',    // edgeclr took the model and got it wrong, or broke
};

struct CaseResult {
  Outcome outcome = Outcome::kFailed;
  std::string detail;  // one line: the rejection reason, or what went wrong and where
};

struct CaseOptions {
  // Turn every test input but input_0 into an initializer before converting, so that
  // node tests passing weights as graph inputs (Conv's W and B, ...) exercise the
  // converter. Off: such cases are rejected as "more than one input".
  bool freeze_extra_inputs = false;
};

// Never throws; every failure becomes a CaseResult. May still crash inside XNNPACK or
// protobuf, which is why the driver runs it in a child process.
CaseResult run_case(const std::string& case_dir, const CaseOptions& options);

}  // namespace edgeclr::conformance

// The CLI's commands. Each takes the arguments after its name and returns an exit code.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace edgeclr::cli {

int run_inspect(int argc, char** argv);
int run_embed(int argc, char** argv);
int run_similarity(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_convert(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_search(int argc, char** argv);
int run_dedup(int argc, char** argv);
int run_adapt(int argc, char** argv);
// `edgeclr adapt ARGS --json` in-process (the Python module's adapt): the report, or the
// error (usage problems as kInvalidArgument "adapt: <problem>"). ARGS as after "adapt".
Result<std::string> adapt_report(const std::vector<std::string>& args);
int run_bench_adapt(int argc, char** argv);
int run_gallery(int argc, char** argv);
int run_bench_search(int argc, char** argv);
int run_viz(int argc, char** argv);

}  // namespace edgeclr::cli

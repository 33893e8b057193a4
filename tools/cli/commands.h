// The CLI's commands. Each takes the arguments after its name and returns an exit code.
#pragma once

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
int run_bench_adapt(int argc, char** argv);
int run_gallery(int argc, char** argv);
int run_bench_search(int argc, char** argv);
int run_viz(int argc, char** argv);

}  // namespace edgeclr::cli

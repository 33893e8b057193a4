// What every CLI command shares: exit codes, error output, argument parsing.
//
// Exit codes: 0 success, 1 user error (bad input, bad file), 2 usage error.
// Errors are one line on stderr starting with "edgeclr: ".
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace edgeclr::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUserError = 1;
inline constexpr int kExitUsage = 2;

// Prints "edgeclr: <message>" to stderr; returns kExitUserError.
int fail(const std::string& message);

// Prints "edgeclr: <command>: <message> (see 'edgeclr <command> --help')"; returns kExitUsage.
int usage_error(const std::string& command, const std::string& message);

// Parsed command line of one command: positional arguments, `--flag` switches and
// `--option VALUE` (or `--option=VALUE`) pairs.
struct Args {
  std::vector<std::string> positional;
  std::set<std::string> flags;
  std::map<std::string, std::string> options;
  bool help = false;  // -h or --help was given

  bool has(const std::string& flag) const { return flags.count(flag) != 0; }
};

// `switches` and `valued` name the accepted --names (without dashes). On an unknown
// option or a missing value, returns false with `*error` set.
bool parse_args(int argc, char** argv, const std::set<std::string>& switches, const std::set<std::string>& valued,
                Args* args, std::string* error);

// argv with "-o" spelled "--out", for the commands that take -o.
std::vector<char*> expand_short_options(int argc, char** argv);

// Parses a whole decimal number in [min, max] given to `--name`; on failure `*error`
// says which option and why.
bool parse_uint(const std::string& text, const std::string& name, uint32_t min, uint32_t max, uint32_t* out,
                std::string* error);

// Value of `--name` as a bounded number, or `fallback` when absent.
bool option_uint(const Args& args, const std::string& name, uint32_t fallback, uint32_t min, uint32_t max,
                 uint32_t* out, std::string* error);

}  // namespace edgeclr::cli

#include "cli/cli_common.h"

#include <cstdio>
#include <cstring>

namespace edgeclr::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "edgeclr: %s\n", message.c_str());
  return kExitUserError;
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "edgeclr: %s: %s (see 'edgeclr %s --help')\n", command.c_str(), message.c_str(),
               command.c_str());
  return kExitUsage;
}

bool parse_args(int argc, char** argv, const std::set<std::string>& switches, const std::set<std::string>& valued,
                Args* args, std::string* error) {
  bool only_positional = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      args->positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      args->help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      *error = "unknown option '" + arg + "'";
      return false;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (switches.count(name) && !inline_value) {
      args->flags.insert(name);
    } else if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) {
          *error = "option '--" + name + "' needs a value";
          return false;
        }
        value = argv[++i];
      }
      args->options[name] = value;
    } else {
      *error = "unknown option '--" + name + "'";
      return false;
    }
  }
  return true;
}

bool parse_uint(const std::string& text, const std::string& name, uint32_t min, uint32_t max, uint32_t* out,
                std::string* error) {
  uint64_t value = 0;
  bool ok = !text.empty() && text.size() <= 10;
  for (const char c : text) {
    if (c < '0' || c > '9') ok = false;
    if (ok) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || value < min || value > max) {
    *error = "--" + name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
             ", got '" + text + "'";
    return false;
  }
  *out = static_cast<uint32_t>(value);
  return true;
}

bool option_uint(const Args& args, const std::string& name, uint32_t fallback, uint32_t min, uint32_t max,
                 uint32_t* out, std::string* error) {
  const auto it = args.options.find(name);
  if (it == args.options.end()) {
    *out = fallback;
    return true;
  }
  return parse_uint(it->second, name, min, max, out, error);
}

std::vector<char*> expand_short_options(int argc, char** argv) {
  static char out[] = "--out";
  std::vector<char*> v(argv, argv + argc);
  for (char*& a : v) {
    if (std::strcmp(a, "-o") == 0) a = out;
  }
  return v;
}

}  // namespace edgeclr::cli

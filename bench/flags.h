// Command-line flags of the macro benchmarks: `--name=value` or
// `--name value`, and `--help`.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::bench {

struct Flag {
  std::string name;  // without the leading "--"
  std::string value;
};

// The flags of argv[1..], in order. Cancelled with `usage` for --help or -h;
// InvalidArgument for an argument that is not a flag or a flag with no value.
inline absl::StatusOr<std::vector<Flag>> SplitFlags(int argc, char** argv, std::string_view usage) {
  std::vector<Flag> out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(std::string(usage));
    if (arg.substr(0, 2) != "--") return absl::InvalidArgumentError("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    Flag f;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      f.name = std::string(arg.substr(0, eq));
      f.value = std::string(arg.substr(eq + 1));
    } else {
      f.name = std::string(arg);
      if (i + 1 >= argc) return absl::InvalidArgumentError("--" + f.name + " needs a value");
      f.value = argv[++i];
    }
    out.push_back(std::move(f));
  }
  return out;
}

// For a failed flag parse: prints the usage (--help, to stdout) or the
// error (to stderr) and returns the exit code, 0 or 2.
inline int ReportFlagsStatus(const absl::Status& status) {
  const bool help = status.code() == absl::StatusCode::kCancelled;
  std::fprintf(help ? stdout : stderr, "%s\n", std::string(status.message()).c_str());
  return help ? 0 : 2;
}

}  // namespace facet::bench

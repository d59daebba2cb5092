// Logging: the server's diagnostics, with levels, written to stderr as one
// timestamped line each.
//
//   log::SetLevel(log::Level::kDebug);                  // once, at start-up
//   log::Info("listening on http://", host, ":", port);  // strings and integers, as Cat() takes them
//   if (log::Enabled(log::Level::kTrace)) log::Trace(ExpensiveDump());
//
// Messages are for operators, not users: command-line output meant for users
// goes to stdout/stderr directly. Do not log inside hot loops (per event,
// per request); log what changes the server's state or health.
//
// There is one process-wide logger (spdlog inside; no spdlog or fmt type
// appears here). Every function is thread-safe. A message below the current
// level costs one relaxed atomic load; its arguments are not formatted.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/str_cat.h"

namespace facet::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// Parses "trace", "debug", "info", "warn" (or "warning"), "error",
// "critical" or "off", in any case. InvalidArgument names the choices.
absl::StatusOr<Level> ParseLevel(std::string_view name);
// "trace" ... "off".
std::string_view LevelName(Level level);

// Messages below `level` are dropped. The default is kInfo.
void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);

// Writes `message` at `level` if enabled.
void Write(Level level, std::string_view message);

template <typename... Args>
void Trace(const Args&... args) {
  if (Enabled(Level::kTrace)) Write(Level::kTrace, Cat(args...));
}
template <typename... Args>
void Debug(const Args&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, Cat(args...));
}
template <typename... Args>
void Info(const Args&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, Cat(args...));
}
template <typename... Args>
void Warn(const Args&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, Cat(args...));
}
template <typename... Args>
void Error(const Args&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, Cat(args...));
}
template <typename... Args>
void Critical(const Args&... args) {
  if (Enabled(Level::kCritical)) Write(Level::kCritical, Cat(args...));
}

// While alive, also records every written message (after the level filter),
// so that tests can check what was logged. One at a time per process.
class CaptureForTest {
 public:
  CaptureForTest();
  ~CaptureForTest();
  CaptureForTest(const CaptureForTest&) = delete;
  CaptureForTest& operator=(const CaptureForTest&) = delete;

  // The messages so far, oldest first.
  std::vector<std::pair<Level, std::string>> lines() const;
};

}  // namespace facet::log

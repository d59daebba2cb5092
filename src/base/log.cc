#include "base/log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cctype>
#include <memory>
#include <mutex>

namespace facet::log {
namespace {

constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kCritical:
      return spdlog::level::critical;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

Level FromSpdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return Level::kTrace;
    case spdlog::level::debug:
      return Level::kDebug;
    case spdlog::level::info:
      return Level::kInfo;
    case spdlog::level::warn:
      return Level::kWarn;
    case spdlog::level::err:
      return Level::kError;
    case spdlog::level::critical:
      return Level::kCritical;
    default:
      return Level::kOff;
  }
}

// Records messages for CaptureForTest while capturing.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void Start() {
    std::lock_guard lock(mu_);
    capturing_ = true;
    lines_.clear();
  }
  void Stop() {
    std::lock_guard lock(mu_);
    capturing_ = false;
    lines_.clear();
  }
  std::vector<std::pair<Level, std::string>> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::lock_guard lock(mu_);
    if (capturing_) lines_.emplace_back(FromSpdlog(msg.level), std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  mutable std::mutex mu_;
  bool capturing_ = false;
  std::vector<std::pair<Level, std::string>> lines_;
};

struct Logger {
  Logger()
      : capture(std::make_shared<CaptureSink>()),
        logger("facet", {std::make_shared<spdlog::sinks::stderr_sink_mt>(), capture}) {
    logger.set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    logger.set_level(spdlog::level::info);
    // stderr is unbuffered; this only makes the sinks' intent explicit.
    logger.flush_on(spdlog::level::trace);
  }
  std::shared_ptr<CaptureSink> capture;
  spdlog::logger logger;
};

// The process's one logger, made on first use and never destroyed, so that
// threads still running during static destruction may log.
Logger& TheLogger() {
  static Logger* const logger = new Logger();
  return *logger;
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "warning") return Level::kWarn;
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (lower == kNames[i]) return static_cast<Level>(i);
  }
  return absl::InvalidArgumentError(
      Cat("unknown log level \"", name, "\": expected trace, debug, info, warn, error, critical or off"));
}

std::string_view LevelName(Level level) {
  const auto i = static_cast<size_t>(level);
  return i < std::size(kNames) ? kNames[i] : "?";
}

void SetLevel(Level level) { TheLogger().logger.set_level(ToSpdlog(level)); }

Level GetLevel() { return FromSpdlog(TheLogger().logger.level()); }

bool Enabled(Level level) { return level != Level::kOff && TheLogger().logger.should_log(ToSpdlog(level)); }

void Write(Level level, std::string_view message) {
  if (level == Level::kOff) return;
  TheLogger().logger.log(ToSpdlog(level), spdlog::string_view_t(message.data(), message.size()));
}

CaptureForTest::CaptureForTest() { TheLogger().capture->Start(); }

CaptureForTest::~CaptureForTest() { TheLogger().capture->Stop(); }

std::vector<std::pair<Level, std::string>> CaptureForTest::lines() const { return TheLogger().capture->lines(); }

}  // namespace facet::log

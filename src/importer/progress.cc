#include "importer/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "importer/internal/strings.h"

namespace facet::importer {
namespace {

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace

Progress::Progress(std::FILE* out, std::function<ProgressState()> sample) : out_(out), sample_(std::move(sample)) {
  tty_ = out_ != nullptr && isatty(fileno(out_)) != 0;
}

Progress::~Progress() { Stop(); }

void Progress::Start() {
  if (out_ == nullptr || started_) return;
  started_ = true;
  start_ = last_plain_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Loop(); });
}

void Progress::Stop() {
  if (!started_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Draw(/*final=*/true);
}

void Progress::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stop_) break;
    lock.unlock();
    Draw(/*final=*/false);
    lock.lock();
  }
}

std::string Progress::Render(const ProgressState& s, double seconds, bool bar) {
  double total = 0;
  if (s.reading_done) {
    total = static_cast<double>(s.rows_read);
  } else if (s.input_fraction > 0.001) {
    total = static_cast<double>(s.rows_read) / s.input_fraction;
  }
  double fraction = total > 0 ? std::min(1.0, static_cast<double>(s.rows_done) / total) : 0;
  double rate = seconds > 0 ? static_cast<double>(s.rows_done) / seconds : 0;
  std::string eta = "?";
  if (rate > 0 && total > 0) eta = Duration((total - static_cast<double>(s.rows_done)) / rate);
  std::string line;
  if (bar) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(fraction * kWidth);
    line = internal::Cat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ");
  }
  internal::Append(&line, absl::StrFormat("%3d%%", static_cast<int>(fraction * 100)), "  ", Thousands(s.rows_done),
                   " rows  ", Thousands(static_cast<uint64_t>(rate)), " rows/s  ",
                   s.reading_done && s.rows_done >= s.rows_read ? "done in " : "ETA ",
                   s.reading_done && s.rows_done >= s.rows_read ? Duration(seconds) : eta);
  return line;
}

void Progress::Draw(bool final) {
  auto now = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(now - start_).count();
  if (!tty_ && !final && now - last_plain_ < std::chrono::seconds(5)) return;
  last_plain_ = now;
  std::string line = Render(sample_(), seconds, tty_);
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "import: %s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace facet::importer

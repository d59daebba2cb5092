// Progress: a progress line for an import on a stream (stderr): rows done,
// rows/s, percent and ETA. On a terminal it is redrawn in place at most five
// times a second; otherwise a plain line is printed every few seconds.
//
// The percentage estimates the total from the share of input bytes read,
// so it needs no pass over the input beforehand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace facet::importer {

struct ProgressState {
  uint64_t rows_read = 0;
  uint64_t rows_done = 0;     // imported or rejected
  double input_fraction = 0;  // share of the input bytes read, 0..1 (0 = unknown)
  bool reading_done = false;
};

class Progress {
 public:
  // `sample` is called from the progress thread.
  Progress(std::FILE* out, std::function<ProgressState()> sample);
  ~Progress();  // Stop()s

  void Start();
  // Draws the last state and ends the line.
  void Stop();

  // The line for `state` after `seconds` (exposed for tests).
  static std::string Render(const ProgressState& state, double seconds, bool bar);

 private:
  void Loop();
  void Draw(bool final);

  std::FILE* out_;
  std::function<ProgressState()> sample_;
  bool tty_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_plain_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace facet::importer

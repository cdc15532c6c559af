// A sign of life on stderr during long work (a start-up in front of a million sockets, a report
// after a loss): one line such as "start: dumped 412,000 sockets … owners 80%", rewritten in
// place with \r, erased when the work is done. Drawn only once the work has taken longer than a
// delay, at most every interval, and only when it was asked for (stderr a terminal, no
// --quiet): the libraries doing the work see only a ProgressFn.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cwtrace {

// What long work reports as it goes: `done` of `total` (total 0: not known). Called often, from
// any thread; the receiver throttles. Empty: nobody listens.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// "412,000".
std::string thousands(uint64_t n);

class ProgressLine {
  public:
    using Write = std::function<void(std::string_view)>;
    // `shown` false: never writes. `write` receives the escape sequences and text.
    explicit ProgressLine(bool shown, Write write, uint64_t delay_ns = 1'000'000'000,
                          uint64_t every_ns = 100'000'000);
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    ~ProgressLine() { end(); }

    bool shown() const { return shown_; }

    // Work named `title` ("start", "report") begins at `now_ns`: its parts are cleared, and
    // nothing is drawn before the delay has passed.
    void begin(std::string title, uint64_t now_ns);
    // Part `name` now reads `text` (parts keep the order they were first set in); the line is
    // redrawn when the delay has passed since begin() and the interval since the last drawing.
    void set(const std::string& name, std::string text, uint64_t now_ns);
    // The work is done: the line, if drawn, is erased.
    void end();
    // The line, if drawn, is erased so that a log line can be written; the next set() draws it
    // again.
    void erase();

    // A ProgressFn that sets part `name` to `noun`'s count ("dumped", "sockets": "dumped 412,000
    // sockets") or, with a total, to a percentage ("owners 80%"), read from monotonic_ns().
    ProgressFn part(std::string name, std::string noun = "");

  private:
    void erase_locked();

    const bool shown_;
    const Write write_;
    const uint64_t delay_ns_, every_ns_;
    std::mutex mutex_;
    std::string title_;
    std::vector<std::pair<std::string, std::string>> parts_;
    uint64_t begun_ns_ = 0, drawn_ns_ = 0;
    bool active_ = false, drawn_ = false;
};

}  // namespace cwtrace

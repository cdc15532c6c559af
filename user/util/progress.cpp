#include "util/progress.h"

#include <algorithm>

#include "util/clock.h"

namespace cwtrace {
namespace {

constexpr std::string_view kEraseLine = "\r\x1b[K";  // to column 0, then clear to its end

}  // namespace

std::string thousands(uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

ProgressLine::ProgressLine(bool shown, Write write, uint64_t delay_ns, uint64_t every_ns)
    : shown_(shown), write_(std::move(write)), delay_ns_(delay_ns), every_ns_(every_ns) {}

void ProgressLine::begin(std::string title, uint64_t now_ns) {
    std::lock_guard lock(mutex_);
    erase_locked();
    title_ = std::move(title);
    parts_.clear();
    begun_ns_ = now_ns;
    active_ = shown_;
}

void ProgressLine::set(const std::string& name, std::string text, uint64_t now_ns) {
    std::lock_guard lock(mutex_);
    if (!active_) return;
    auto part =
        std::find_if(parts_.begin(), parts_.end(), [&](const auto& p) { return p.first == name; });
    if (part == parts_.end())
        parts_.emplace_back(name, std::move(text));
    else
        part->second = std::move(text);
    if (now_ns < begun_ns_ + delay_ns_ || (drawn_ && now_ns < drawn_ns_ + every_ns_)) return;
    std::string line(kEraseLine);
    line += title_ + ":";
    for (size_t i = 0; i < parts_.size(); ++i) line += (i ? " \u2026 " : " ") + parts_[i].second;
    write_(line);
    drawn_ = true;
    drawn_ns_ = now_ns;
}

void ProgressLine::end() {
    std::lock_guard lock(mutex_);
    erase_locked();
    active_ = false;
}

void ProgressLine::erase() {
    std::lock_guard lock(mutex_);
    erase_locked();
}

void ProgressLine::erase_locked() {
    if (drawn_) write_(kEraseLine);
    drawn_ = false;
}

ProgressFn ProgressLine::part(std::string name, std::string noun) {
    if (!shown_) return {};
    return [this, name = std::move(name), noun = std::move(noun)](uint64_t done, uint64_t total) {
        std::string text = name + " ";
        if (total)
            text += std::to_string(std::min<uint64_t>(done, total) * 100 / total) + "%";
        else
            text += thousands(done) + (noun.empty() ? "" : " " + noun);
        set(name, std::move(text), monotonic_ns());
    };
}

}  // namespace cwtrace

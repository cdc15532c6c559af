// The layout both text renderers share (the main report and its late-closes sections): lines of
// at most the layout's width (80 columns, or the terminal's) counted in code points, names too
// long for them shortened in the middle with "…" and paths from the left so that the file's
// name and line survive, words wrapped greedily, colour on a terminal, and how an opening path,
// a frame and a stack are written (a process is the model's format_process). Functions take
// clean text (display.h's display_safe) or make the untrusted names they are given clean
// themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "model/report.h"

namespace cwtrace::text_layout {

inline constexpr size_t kDefaultWidth = 80;  // when the output is not a terminal
// Narrower, and a frame's function and module could not share a line: --width refuses it.
inline constexpr size_t kMinWidth = 40;
inline constexpr size_t kMaxWidth = 1000;

// Display width of clean text: one column per code point.
size_t width(std::string_view s);

// Clean text shortened to at most `max` columns by replacing its middle with "…".
std::string shorten(const std::string& s, size_t max);

// A path (or text ending in one's file, "…, net.c:88") shortened from the left to at most `max`
// columns: "…/urllib3/util/connection.py:86", cut at a '/' where one is near, so that the file's
// name and line survive and what is left reads as a path.
std::string shorten_path(const std::string& s, size_t max);

std::string pad_right(const std::string& s, size_t w);
std::string pad_left(const std::string& s, size_t w);

// The words of `s`, split at spaces (runs of spaces make no empty words).
std::vector<std::string> split_words(const std::string& s);

// "1 socket", "2 sockets".
std::string plural(uint64_t n, const char* one, const char* many);

// "opened by connect()", "opened by accept()", "origin unknown".
std::string how_opened(const Origin& origin);
// The user's own frame as a headline names it: "session_per_call (crawler.py:69)", the file's
// name and line where known, else the module's name: "open_connection (leaky_client)".
std::string own_frame_text(const Frame& own);

// What colour marks, on a terminal: a group's title, its owner, an age, a loss.
enum class Paint { Title, Owner, Age, Warning };

// The width lines are laid out to, and whether they are coloured (ANSI SGR; only ever for a
// terminal: the colour codes are added around whole lines, after they are fitted, so they never
// count toward a width).
class Layout {
  public:
    explicit Layout(size_t columns = kDefaultWidth, bool color = false);

    size_t columns() const { return columns_; }

    // Greedy wrap: the words joined by `sep`, the first line indented by `indent`, later ones by
    // `cont`; a word too long for a line of its own is shortened. Ends in '\n'.
    std::string wrap(const std::string& indent, const std::string& cont,
                     const std::vector<std::string>& words, const std::string& sep = " ") const;

    // One line: `indent` and `text`, shortened to fit. Ends in '\n'.
    std::string fitted_line(const std::string& indent, const std::string& text) const;

    // One frame of a stack, indented under its label: "function (module)", or "function
    // [kernel]", with the source position where known ("fetch_page (crawler.py:12)",
    // "open_leaky (/usr/bin/app, leaky.c:41)"); the module gets at most about half the line when
    // space is short, shortened from the left (shorten_path).
    std::string frame_line(const Frame& frame, bool kernel) const;
    std::string creator_line(const Frame& previous, const Frame& frame) const;

    // "    user stack:" and its frames, innermost first; the first `max_frames` of them and a
    // count of the rest. "    user stack: not captured" when there are none.
    std::string stack_block(const std::string& label, const std::vector<Frame>& frames, bool kernel,
                            size_t max_frames = std::numeric_limits<size_t>::max()) const;

    // The user stack of `origin` with runs of library frames folded into one line each
    // ("… 11 frames in urllib3, http.client …"; the rule is stack_folding.h's).
    std::string folded_stack_block(const std::string& label, const Origin& origin) const;

    // `lines` (each ending in '\n') in the colour of `what` when colour is on; as they are else.
    std::string paint(const std::string& lines, Paint what) const;

  private:
    size_t columns_;
    bool color_;
};

}  // namespace cwtrace::text_layout

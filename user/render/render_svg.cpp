// A standalone SVG flame graph: the root ("all") at the bottom, each opening path a tower whose
// width is its share of the sockets; frames in a row sorted by name. The layout is computed
// here, so the picture shows without script too; the inline script (flame_graph.js) adds hover
// details, click to zoom and search. Nothing is fetched: it opens offline.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "flame_graph_js.h"
#include "render/flame.h"
#include "render/render.h"
#include "util/display.h"

namespace cwtrace {
namespace {

constexpr int kImageWidth = 1200;
constexpr int kPad = 10;
constexpr int kGraphWidth = kImageWidth - 2 * kPad;
constexpr int kGraphTop = 80;
constexpr int kFrameHeight = 16;
constexpr int kRowHeight = kFrameHeight + 1;
constexpr int kFooterHeight = 34;
constexpr double kCharWidth = 7.3;  // 12px monospace, with a margin

// ---- The tree of paths ----

struct Node {
    FlameFrame frame;
    uint64_t count = 0;
    std::vector<Node> children;  // sorted by frame
};

// The stacks are sorted, so a path's frames always extend the last child at each level.
Node build_tree(const std::vector<FlameStack>& stacks) {
    Node root{{"all", "", FlameKind::Missing}, 0, {}};
    for (const auto& stack : stacks) {
        Node* node = &root;
        node->count += stack.count;
        for (const auto& f : stack.frames) {
            if (node->children.empty() || node->children.back().frame != f)
                node->children.push_back({f, 0, {}});
            node = &node->children.back();
            node->count += stack.count;
        }
    }
    return root;
}

// Rows above the root: the longest path.
size_t depth_of(const std::vector<FlameStack>& stacks) {
    size_t d = 0;
    for (const auto& stack : stacks) d = std::max(d, stack.frames.size());
    return d;
}

// ---- Text ----

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string fixed(double v, int decimals = 2) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// An element built attribute by attribute, attribute values escaped: <rect x="1" .../>.
class Tag {
  public:
    explicit Tag(std::string name) : name_(std::move(name)), text_("<" + name_) {}

    Tag& attr(const char* key, const std::string& value) {
        text_ += std::string(" ") + key + "=\"" + xml_escape(value) + "\"";
        return *this;
    }
    Tag& attr(const char* key, uint64_t value) { return attr(key, std::to_string(value)); }
    Tag& attr(const char* key, int value) { return attr(key, std::to_string(value)); }

    std::string empty() const { return text_ + "/>"; }
    std::string open() const { return text_ + ">"; }
    // `inner` is markup: text in it must be escaped already.
    std::string wrap(const std::string& inner) const {
        return text_ + ">" + inner + "</" + name_ + ">";
    }

  private:
    std::string name_, text_;
};

std::string sockets(uint64_t n) { return std::to_string(n) + (n == 1 ? " socket" : " sockets"); }

// A width in the graph's unit (--weight).
std::string amount(uint64_t n, FlameWeight weight) {
    if (weight == FlameWeight::Seconds) return std::to_string(n) + " s in CLOSE_WAIT";
    return sockets(n);
}

std::string share(uint64_t n, uint64_t total, FlameWeight weight) {
    return amount(n, weight) + ", " + fixed(total ? 100.0 * static_cast<double>(n) / total : 0) +
           "%";
}

// What the frame is, as a person reads it: "connect (/lib/libc.so.6)", "tcp_connect [kernel]".
std::string described(const FlameFrame& f) {
    switch (f.kind) {
        case FlameKind::Kernel:
            return f.name + " [kernel]";
        case FlameKind::Process:
            return f.name + " [process]";
        case FlameKind::User:
        case FlameKind::Interpreter:
            return (f.module.empty() ? f.name : f.name + " (" + f.module + ")") +
                   (f.own ? ", own code" : "");
        case FlameKind::Missing:
            break;
    }
    return f.name;
}

// The name cut to what fits in px pixels (".." marks a cut), as the script does on zoom.
std::string label(const std::string& name, double px) {
    const auto fits = static_cast<long>((px - 6) / kCharWidth);
    if (fits < 3) return "";
    std::vector<size_t> starts;  // byte offset of each code point
    for (size_t i = 0; i < name.size(); ++i)
        if ((static_cast<unsigned char>(name[i]) & 0xC0) != 0x80) starts.push_back(i);
    if (starts.size() <= static_cast<size_t>(fits)) return name;
    return name.substr(0, starts[fits - 2]) + "..";
}

// ---- Colours: one hue family per kind, varied by a hash of the name so equal names match ----

uint32_t fnv1a(const std::string& s) {
    uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

struct Palette {
    int r, g, b;     // base
    int dr, dg, db;  // range added by the name's hash
};

Palette palette(FlameKind kind) {
    switch (kind) {
        case FlameKind::User:
            return {205, 70, 0, 50, 140, 55};  // warm: red to yellow
        case FlameKind::Interpreter:
            return {60, 170, 60, 60, 60, 50};  // green
        case FlameKind::Kernel:
            return {80, 150, 210, 50, 50, 45};  // blue
        case FlameKind::Process:
            return {170, 130, 210, 40, 20, 40};  // purple
        case FlameKind::Missing:
            break;
    }
    return {195, 195, 195, 15, 15, 15};  // grey
}

// The user's own frame, whatever its kind: the one colour no kind has, so the eye lands on it.
constexpr Palette kOwnPalette = {225, 30, 150, 25, 40, 50};  // magenta

std::string rgb(int r, int g, int b) {
    return "rgb(" + std::to_string(r) + "," + std::to_string(g) + "," + std::to_string(b) + ")";
}

std::string colour(const FlameFrame& f) {
    const Palette p = f.own ? kOwnPalette : palette(f.kind);
    const uint32_t h = fnv1a(f.name);
    auto vary = [&](int base, int range, int shift) {
        return base + static_cast<int>(range * ((h >> shift) & 0xFF) / 255);
    };
    return rgb(vary(p.r, p.dr, 0), vary(p.g, p.dg, 8), vary(p.b, p.db, 16));
}

// ---- Document ----

struct Geometry {
    uint64_t total = 0;
    size_t max_depth = 0;
    FlameWeight weight = FlameWeight::Sockets;
    int height() const {
        return kGraphTop + static_cast<int>(max_depth + 1) * kRowHeight + kFooterHeight;
    }
    double row_y(size_t depth) const {
        return kGraphTop + static_cast<double>(max_depth - depth) * kRowHeight;
    }
};

std::string frame_element(const Node& n, size_t id, size_t depth, uint64_t x, const Geometry& geo) {
    const double px = kPad + static_cast<double>(x) / geo.total * kGraphWidth;
    const double pw = static_cast<double>(n.count) / geo.total * kGraphWidth;
    const double y = geo.row_y(depth);
    Tag g("g");
    g.attr("id", "f" + std::to_string(id)).attr("class", "f").attr("data-x", x);
    g.attr("data-w", n.count).attr("data-d", static_cast<uint64_t>(depth));
    g.attr("data-n", n.frame.name);
    if (!n.frame.module.empty()) g.attr("data-m", n.frame.module);
    const std::string title = Tag("title").wrap(
        xml_escape(described(n.frame) + ": " + share(n.count, geo.total, geo.weight)));
    const std::string rect = Tag("rect")
                                 .attr("x", fixed(px))
                                 .attr("y", fixed(y, 0))
                                 .attr("width", fixed(pw))
                                 .attr("height", kFrameHeight)
                                 .attr("fill", colour(n.frame))
                                 .empty();
    const std::string text = Tag("text")
                                 .attr("x", fixed(px + 3))
                                 .attr("y", fixed(y + 12, 0))
                                 .wrap(xml_escape(label(n.frame.name, pw)));
    return g.wrap(title + rect + text) + "\n";
}

// Frames in pre-order, with ids f0, f1, ...; x and width also in sockets, for the script.
// Iterative: a saved report may hold stacks thousands of frames deep.
std::string frame_elements(const Node& root, const Geometry& geo) {
    struct Pending {
        const Node* node;
        size_t depth;
        uint64_t x;
    };
    std::vector<Pending> todo{{&root, 0, 0}};
    std::string out;
    for (size_t id = 0; !todo.empty(); ++id) {
        const Pending p = todo.back();
        todo.pop_back();
        out += frame_element(*p.node, id, p.depth, p.x, geo);
        uint64_t end = p.x + p.node->count;  // children pushed last first, so popped in order
        for (auto c = p.node->children.rbegin(); c != p.node->children.rend(); ++c) {
            end -= c->count;
            todo.push_back({&*c, p.depth + 1, end});
        }
    }
    return out;
}

const char* const kStyle = R"(<style>
text { font-family: monospace; font-size: 12px; fill: rgb(0,0,0); }
#title { font-size: 17px; font-weight: bold; text-anchor: middle; }
#subtitle { text-anchor: middle; fill: rgb(60,60,60); }
.warn { fill: rgb(200,0,0); font-weight: bold; }
.button { cursor: pointer; fill: rgb(0,70,160); }
.button:hover { text-decoration: underline; }
.hide { display: none; }
.f { cursor: pointer; }
.f text { pointer-events: none; }
.f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
.parent rect { opacity: 0.5; }
</style>
)";

std::string legend() {
    const std::pair<Palette, std::string> items[] = {
        {palette(FlameKind::Process), "process"},         {palette(FlameKind::User), "user"},
        {palette(FlameKind::Interpreter), "interpreter"}, {palette(FlameKind::Kernel), "kernel"},
        {palette(FlameKind::Missing), "missing"},         {kOwnPalette, "own code"}};
    std::string out = "<g id=\"legend\">\n";
    int x = kPad;
    for (const auto& [p, name] : items) {
        const std::string fill = rgb(p.r + p.dr / 2, p.g + p.dg / 2, p.b + p.db / 2);
        out += Tag("rect")
                   .attr("x", x)
                   .attr("y", 58)
                   .attr("width", 12)
                   .attr("height", 12)
                   .attr("fill", fill)
                   .empty() +
               Tag("text").attr("x", x + 16).attr("y", 68).wrap(name) + "\n";
        x += 16 + static_cast<int>(name.size()) * 8 + 16;
    }
    return out + "</g>\n";
}

std::string subtitle(const Report& r, const ReportContext& context, uint64_t total) {
    std::string s = (context.weight == FlameWeight::Seconds
                         ? std::to_string(total) + " s spent in CLOSE_WAIT by sockets stuck"
                         : sockets(total) + " in CLOSE_WAIT") +
                    " for at least " + human_setting(r.min_age_seconds) + " \u00b7 traced " +
                    human_setting(r.tracing_seconds);
    if (!context.host.empty()) s += " \u00b7 host " + display_safe(context.host);
    std::string inner = xml_escape(s);
    if (r.stats.lost_events)
        inner += " \u00b7 " + Tag("tspan")
                                  .attr("class", "warn")
                                  .wrap(std::to_string(r.stats.lost_events) +
                                        " events lost: the graph may be incomplete");
    return Tag("text").attr("id", "subtitle").attr("x", kImageWidth / 2).attr("y", 44).wrap(inner) +
           "\n";
}

std::string header(const Report& r, const ReportContext& context, const Geometry& geo) {
    const std::string title = "TCP sockets in CLOSE_WAIT, by the code that opened them";
    const Tag svg = Tag("svg")
                        .attr("xmlns", "http://www.w3.org/2000/svg")
                        .attr("version", "1.1")
                        .attr("width", kImageWidth)
                        .attr("height", geo.height())
                        .attr("viewBox", "0 0 " + std::to_string(kImageWidth) + " " +
                                             std::to_string(geo.height()))
                        // For the script: the sockets and the graph's place.
                        .attr("data-total", geo.total)
                        .attr("data-graph-left", kPad)
                        .attr("data-graph-width", kGraphWidth)
                        .attr("data-char-width", fixed(kCharWidth, 1));
    const Tag background = Tag("rect")
                               .attr("x", 0)
                               .attr("y", 0)
                               .attr("width", kImageWidth)
                               .attr("height", geo.height())
                               .attr("fill", "rgb(250,250,245)");
    const Tag unzoom =
        Tag("text").attr("id", "unzoom").attr("class", "button hide").attr("x", kPad).attr("y", 24);
    const Tag search = Tag("text")
                           .attr("id", "search")
                           .attr("class", "button")
                           .attr("x", kImageWidth - kPad)
                           .attr("y", 24)
                           .attr("text-anchor", "end");
    return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n" + svg.open() + "\n" +
           Tag("title").wrap("cwtrace: " + title) + "\n" + kStyle + background.empty() + "\n" +
           Tag("text").attr("id", "title").attr("x", kImageWidth / 2).attr("y", 24).wrap(title) +
           "\n" + subtitle(r, context, geo.total) + unzoom.wrap("Reset zoom") + "\n" +
           search.wrap("Search") + "\n" + legend();
}

std::string empty_graph_note(const Report& r) {
    return Tag("text")
               .attr("x", kImageWidth / 2)
               .attr("y", kGraphTop + 12)
               .attr("text-anchor", "middle")
               .wrap("No sockets in CLOSE_WAIT for at least " + human_setting(r.min_age_seconds) +
                     ".") +
           "\n";
}

std::string footer(const Geometry& geo) {
    const int y = geo.height() - 12;
    return Tag("text")
               .attr("id", "details")
               .attr("x", kPad)
               .attr("y", y)
               .wrap(
                   "Hover over a frame for its sockets; click to zoom; Search (or Ctrl-F) "
                   "highlights.") +
           "\n" +
           Tag("text")
               .attr("id", "matched")
               .attr("x", kImageWidth - kPad)
               .attr("y", y)
               .attr("text-anchor", "end")
               .wrap("") +
           "\n<script><![CDATA[\n" + kFlameGraphScript + "]]></script>\n</svg>\n";
}

}  // namespace

std::string render_svg(const Report& report, const ReportContext& context) {
    const auto stacks = flame_stacks(report, context.weight);
    const Node root = build_tree(stacks);
    const Geometry geo{root.count, depth_of(stacks), context.weight};
    std::string out = header(report, context, geo) + "<g id=\"frames\">\n";
    if (geo.total > 0) out += frame_elements(root, geo);
    out += "</g>\n";
    if (geo.total == 0) out += empty_graph_note(report);
    return out + footer(geo);
}

}  // namespace cwtrace

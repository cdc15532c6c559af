// Readers of the flame-style formats for the renderer tests: folded lines as flamegraph.pl
// reads them, pprof through protobuf + zlib, SVG through libxml2, and the flame_graph.js the
// SVG goldens stand in for. A reader that meets something its format does not allow fails the
// test that called it.
#pragma once

#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model/report.h"
#include "profile.pb.h"

namespace cwtrace::flame_readers {

namespace pb = perftools::profiles;

inline const ReportContext kHost{"web-1.example"};

// ---- Folded, read as flamegraph.pl reads it ----

struct FoldedLine {
    std::vector<std::string> frames;
    uint64_t count = 0;
};

// flamegraph.pl's grammar: the count is the number after the line's last space; the stack
// before it is split on ';'.
inline std::vector<FoldedLine> parse_folded(const std::string& text) {
    std::vector<FoldedLine> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const size_t space = line.rfind(' ');
        const bool ok = space != std::string::npos && space > 0 && space + 1 < line.size() &&
                        line.find_first_not_of("0123456789", space + 1) == std::string::npos;
        EXPECT_TRUE(ok) << "not a folded line: " << line;
        if (!ok) continue;
        FoldedLine f{{}, std::stoull(line.substr(space + 1))};
        std::string frame;
        std::istringstream frames(line.substr(0, space));
        while (std::getline(frames, frame, ';')) f.frames.push_back(frame);
        lines.push_back(std::move(f));
    }
    return lines;
}

// Frames of the flame graph: every distinct path prefix, plus the root.
inline size_t flame_frame_count(const std::vector<FoldedLine>& lines) {
    std::set<std::vector<std::string>> prefixes;
    for (const auto& l : lines)
        for (size_t n = 1; n <= l.frames.size(); ++n)
            prefixes.emplace(l.frames.begin(), l.frames.begin() + static_cast<long>(n));
    return prefixes.empty() ? 0 : prefixes.size() + 1;
}

// ---- pprof, read back ----

inline std::string gunzip(const std::string& gz) {
    z_stream zs = {};
    EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);  // gzip only, not raw zlib
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    char buf[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
    }
    inflateEnd(&zs);
    EXPECT_EQ(rc, Z_STREAM_END) << "not a complete gzip stream";
    return out;
}

inline pb::Profile read_pprof(const std::string& gz) {
    pb::Profile p;
    EXPECT_TRUE(p.ParseFromString(gunzip(gz))) << "not a perftools.profiles.Profile";
    return p;
}

inline std::string str(const pb::Profile& p, int64_t index) {
    if (index < 0 || index >= p.string_table_size()) {
        ADD_FAILURE() << "string index " << index << " outside the table";
        return "";
    }
    return p.string_table(static_cast<int>(index));
}

// ---- SVG, read back by libxml2 ----

struct XmlDoc {
    xmlDocPtr doc = nullptr;
    explicit XmlDoc(const std::string& text)
        : doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), "flame.svg", nullptr,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) {}
    ~XmlDoc() { xmlFreeDoc(doc); }
    XmlDoc(const XmlDoc&) = delete;
    XmlDoc& operator=(const XmlDoc&) = delete;
};

inline std::string attr(xmlNodePtr node, const char* name) {
    xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    if (!v) return "";
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return s;
}

inline std::string name_of(xmlNodePtr node) { return reinterpret_cast<const char*>(node->name); }

inline std::string text_of(xmlNodePtr node) {
    xmlChar* v = xmlNodeGetContent(node);
    std::string s(v ? reinterpret_cast<const char*>(v) : "");
    xmlFree(v);
    return s;
}

inline void collect(xmlNodePtr node, const std::string& element, std::vector<xmlNodePtr>& out) {
    for (xmlNodePtr n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name_of(n) == element) out.push_back(n);
        collect(n->children, element, out);
    }
}

// The frames of the flame graph: <g class="f"> elements.
inline std::vector<xmlNodePtr> svg_frames(const XmlDoc& x) {
    std::vector<xmlNodePtr> groups, frames;
    collect(xmlDocGetRootElement(x.doc), "g", groups);
    for (auto* g : groups)
        if (attr(g, "class") == "f") frames.push_back(g);
    return frames;
}

inline xmlNodePtr child(xmlNodePtr node, const char* element) {
    for (xmlNodePtr n = node->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && name_of(n) == element) return n;
    return nullptr;
}

struct Rgb {
    int r = 0, g = 0, b = 0;
};

inline Rgb fill_of(xmlNodePtr frame) {
    Rgb c;
    std::sscanf(attr(child(frame, "rect"), "fill").c_str(), "rgb(%d,%d,%d)", &c.r, &c.g, &c.b);
    return c;
}

// ---- Golden files ----

// flame_graph.js as in the source tree: the script every SVG embeds whole.
inline const std::string& flame_graph_js() {
    static const std::string script = [] {
        std::ifstream in(CWTRACE_FLAME_GRAPH_JS, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }();
    return script;
}

// The SVG goldens hold a placeholder where the script stands, so that an edit of the script
// re-blesses none: the browser test runs the script, RenderSvg.EmbedsFlameGraphJsWhole finds it.
inline std::string with_script_placeholder(std::string svg) {
    const std::string& script = flame_graph_js();
    const size_t at = script.empty() ? std::string::npos : svg.find(script);
    if (at != std::string::npos) svg.replace(at, script.size(), "/* flame_graph.js */\n");
    return svg;
}

}  // namespace cwtrace::flame_readers

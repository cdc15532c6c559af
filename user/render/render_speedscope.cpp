// speedscope's file format (https://www.speedscope.app/file-format-schema.json): the frames
// once in "shared", then one "sampled" profile whose samples are the opening paths (frame
// indices, root first) and whose weights are their socket counts.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "render/flame.h"
#include "render/render.h"
#include "util/display.h"

namespace cwtrace {
namespace {

using Json = nlohmann::ordered_json;

// The file a frame is in, as perf and pprof name the kernel's.
std::string file_of(const FlameFrame& f) {
    return f.kind == FlameKind::Kernel ? "[kernel.kallsyms]" : f.module;
}

std::string title(const Report& report, const ReportContext& context) {
    return "cwtrace: sockets in CLOSE_WAIT for at least " + human_setting(report.min_age_seconds) +
           ", by opening path" +
           (context.host.empty() ? "" : " (" + display_safe(context.host) + ")");
}

// Frames numbered in order of first use, so the output is as deterministic as the stacks.
class FrameTable {
  public:
    size_t index(const FlameFrame& f) {
        auto [it, added] = index_.try_emplace(f, frames_.size());
        if (added) {
            Json j = Json::object();
            j["name"] = f.name;
            if (!file_of(f).empty()) j["file"] = file_of(f);
            frames_.push_back(std::move(j));
        }
        return it->second;
    }
    Json take() { return std::move(frames_); }

  private:
    std::map<FlameFrame, size_t> index_;
    Json frames_ = Json::array();
};

}  // namespace

std::string render_speedscope(const Report& report, const ReportContext& context) {
    const auto stacks = flame_stacks(report, context.weight);
    FrameTable frames;
    Json samples = Json::array(), weights = Json::array();
    for (const auto& stack : stacks) {
        Json sample = Json::array();
        for (const auto& f : stack.frames) sample.push_back(frames.index(f));
        samples.push_back(std::move(sample));
        weights.push_back(stack.count);
    }
    Json profile = Json::object();
    profile["type"] = "sampled";
    profile["name"] = title(report, context);
    profile["unit"] = context.weight == FlameWeight::Seconds ? "seconds" : "none";
    profile["startValue"] = 0;
    profile["endValue"] = flame_total(stacks);
    profile["samples"] = std::move(samples);
    profile["weights"] = std::move(weights);

    Json j = Json::object();
    j["$schema"] = "https://www.speedscope.app/file-format-schema.json";
    j["name"] = title(report, context);
    j["exporter"] = "cwtrace";
    j["activeProfileIndex"] = 0;
    j["shared"] = {{"frames", frames.take()}};
    j["profiles"] = Json::array({std::move(profile)});
    return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace cwtrace

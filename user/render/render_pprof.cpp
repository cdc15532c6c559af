// pprof's profile.proto (proto/profile.proto), gzipped: what go tool pprof, Pyroscope and
// Parca read. One sample per opening path: its frames as locations (leaf first; calls inlined
// at one address are one location's lines, innermost first), the opening
// process's comm as the label "comm", and the number of sockets as the value of the one sample
// type, sockets/count. A function is a (name, file) pair. User frames keep where their code is,
// so that `pprof -symbolize` or a debuginfod-backed server can name what cwtrace could not: each
// location has its address, in a mapping per file and load address (processes load a library at
// different addresses) whose start is where the file's offset 0 would be, so address - start is
// the frame's file offset, and which carries the file's build id. Kernel frames keep no address
// ([kernel.kallsyms], one mapping).
#include <zlib.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "profile.pb.h"
#include "render/flame.h"
#include "render/render.h"
#include "util/display.h"

namespace cwtrace {
namespace {

namespace pb = perftools::profiles;

const std::string kKernelFile = "[kernel.kallsyms]";

std::string file_of(const FlameFrame& f) {
    return f.kind == FlameKind::Kernel ? kKernelFile : f.module;
}

class ProfileBuilder {
  public:
    // pprof requires string_table[0] == "".
    ProfileBuilder() { string_index(""); }

    int64_t string_index(const std::string& s) {
        auto [it, added] = strings_.try_emplace(s, profile_.string_table_size());
        if (added) profile_.add_string_table(s);
        return it->second;
    }

    // `calls`: one address's frames, innermost first: the calls inlined there, then the
    // function they were inlined into, as pprof lists a location's lines.
    uint64_t location_id(const std::vector<FlameFrame>& calls) {
        auto [it, added] = locations_.try_emplace(calls, locations_.size() + 1);
        if (added) {
            const FlameFrame& f = calls.front();
            pb::Location* loc = profile_.add_location();
            loc->set_id(it->second);
            loc->set_mapping_id(mapping_id(f));
            if (f.address) loc->set_address(*f.address);
            for (const FlameFrame& call : calls)
                loc->add_line()->set_function_id(function_id(call.name, file_of(call)));
        }
        return it->second;
    }

    pb::Profile& profile() { return profile_; }

  private:
    // Frames without a file (placeholders such as "[missing user stack]") have no mapping.
    uint64_t mapping_id(const FlameFrame& f) {
        const std::string file = file_of(f);
        if (file.empty()) return 0;
        // Where the file's offset 0 is in the frame's process, when the frame says.
        std::optional<uint64_t> start;
        if (f.address && f.file_offset && *f.address >= *f.file_offset)
            start = *f.address - *f.file_offset;
        auto [it, added] =
            mappings_.try_emplace(std::make_tuple(file, f.build_id, start), mappings_.size() + 1);
        pb::Mapping* m = nullptr;
        if (added) {
            m = profile_.add_mapping();
            m->set_id(it->second);
            m->set_filename(string_index(file));
            if (!f.build_id.empty()) m->set_build_id(string_index(f.build_id));
            if (start) m->set_memory_start(*start);
            m->set_has_functions(true);
            m->set_has_filenames(true);
        } else {
            m = profile_.mutable_mapping(static_cast<int>(it->second - 1));
        }
        // The mapping reaches past its highest address known.
        if (start && *f.address >= m->memory_limit()) m->set_memory_limit(*f.address + 1);
        return it->second;
    }

    uint64_t function_id(const std::string& name, const std::string& file) {
        auto [it, added] = functions_.try_emplace({name, file}, functions_.size() + 1);
        if (added) {
            pb::Function* fn = profile_.add_function();
            fn->set_id(it->second);
            fn->set_name(string_index(name));
            fn->set_system_name(string_index(name));
            fn->set_filename(string_index(file));
        }
        return it->second;
    }

    pb::Profile profile_;
    std::map<std::string, int64_t> strings_;
    std::map<std::tuple<std::string, std::string, std::optional<uint64_t>>, uint64_t> mappings_;
    std::map<std::pair<std::string, std::string>, uint64_t> functions_;
    std::map<std::vector<FlameFrame>, uint64_t> locations_;
};

// Whether `inner` is a call inlined into `outer` (the frame above it): the symbolizer gives
// each call inlined at an address a frame of its own at that address. A recursive call from
// one call site has the address too, but the same function: two locations.
bool inlined_into(const FlameFrame& inner, const FlameFrame& outer) {
    return inner.kind == FlameKind::User && outer.kind == FlameKind::User && inner.address &&
           inner.address == outer.address && inner.module == outer.module &&
           inner.name != outer.name;
}

int64_t nanos(double seconds) {
    if (!std::isfinite(seconds) || seconds <= 0) return 0;
    return seconds >= 9.2e9 ? std::numeric_limits<int64_t>::max()
                            : static_cast<int64_t>(std::llround(seconds * 1e9));
}

void describe(ProfileBuilder& b, const Report& report, const ReportContext& context) {
    pb::Profile& p = b.profile();
    // Weighted by seconds: the time the path's sockets spent in CLOSE_WAIT.
    const bool seconds = context.weight == FlameWeight::Seconds;
    for (pb::ValueType* vt : {p.add_sample_type(), p.mutable_period_type()}) {
        vt->set_type(b.string_index(seconds ? "close_wait" : "sockets"));
        vt->set_unit(b.string_index(seconds ? "seconds" : "count"));
    }
    p.set_period(1);
    p.set_default_sample_type(b.string_index(seconds ? "close_wait" : "sockets"));
    p.set_duration_nanos(nanos(report.tracing_seconds));
    std::vector<std::string> comments = {"cwtrace: TCP sockets in CLOSE_WAIT for at least " +
                                             human_setting(report.min_age_seconds) +
                                             ", by the code path that opened them",
                                         "traced for " + human_setting(report.tracing_seconds)};
    if (!context.host.empty()) comments.push_back("host " + display_safe(context.host));
    if (report.stats.lost_events)
        comments.push_back(std::to_string(report.stats.lost_events) +
                           " events lost: the profile may be incomplete");
    for (const auto& c : comments) p.add_comment(b.string_index(c));
}

// zlib and protobuf fail here only when memory runs out (or past 2 GiB, which no report reaches);
// that ends the program, as std::bad_alloc would.
std::string gzip(const std::string& data) {
    z_stream zs = {};
    // windowBits 15 + 16: a gzip header and trailer instead of zlib's (mtime 0: reproducible).
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: deflateInit2 failed");
    std::string out(deflateBound(&zs, data.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
    return out;
}

}  // namespace

std::string render_pprof(const Report& report, const ReportContext& context) {
    ProfileBuilder b;
    describe(b, report, context);
    const int64_t comm_key = b.string_index("comm");
    for (const auto& stack : flame_stacks(report, context.weight, /*with_addresses=*/true)) {
        pb::Sample* sample = b.profile().add_sample();
        // frames[0] is the process, a label here; the rest are locations, leaf first.
        for (size_t i = stack.frames.size(); i-- > 1;) {
            std::vector<FlameFrame> calls{stack.frames[i]};
            while (i > 1 && inlined_into(stack.frames[i], stack.frames[i - 1]))
                calls.push_back(stack.frames[--i]);
            sample->add_location_id(b.location_id(calls));
        }
        sample->add_value(static_cast<int64_t>(std::min<uint64_t>(
            stack.count, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))));
        pb::Label* comm = sample->add_label();
        comm->set_key(comm_key);
        comm->set_str(b.string_index(stack.frames.front().name));
    }
    std::string bytes;
    if (!b.profile().SerializeToString(&bytes)) throw std::runtime_error("pprof: cannot serialize");
    return gzip(bytes);
}

}  // namespace cwtrace

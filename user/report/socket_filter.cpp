#include "report/socket_filter.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <string_view>

#include "owners/owner_finder.h"

namespace cwtrace {
namespace {

constexpr size_t kCommBytes = CW_COMM_LEN - 1;  // the kernel keeps 15 bytes and a NUL

template <typename T>
bool any_of(const std::vector<T>& values, auto pred) {
    return std::any_of(values.begin(), values.end(), pred);
}

Error bad(std::string_view option, std::string_view what) {
    return Error{std::string(option) + ": " + std::string(what), {}};
}

std::optional<uint16_t> port_of(std::string_view text) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(n);
}

// A path as /proc/PID/cgroup names it; a path under the usual cgroup2 mount point is taken as the
// cgroup it names there.
std::optional<std::string> cgroup_of(std::string_view text) {
    constexpr std::string_view kMount = "/sys/fs/cgroup";
    if (text.empty()) return std::nullopt;
    if (text.starts_with(kMount) && (text.size() == kMount.size() || text[kMount.size()] == '/'))
        text.remove_prefix(kMount.size());
    if (text.empty()) return "/";
    if (text.front() != '/') return std::nullopt;
    while (text.size() > 1 && text.back() == '/') text.remove_suffix(1);
    // Each component a plain name: no "", ".", ".." (a path not written as the kernel writes it
    // would never match), no control bytes.
    for (size_t at = 1; at < text.size();) {
        size_t end = std::min(text.find('/', at), text.size());
        std::string_view part = text.substr(at, end - at);
        if (part.empty() || part == "." || part == "..") return std::nullopt;
        if (any_of(std::vector<char>(part.begin(), part.end()),
                   [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
            return std::nullopt;
        at = end + 1;
    }
    return std::string(text);
}

// Checks each value of one option with `parse` (nullopt: bad, said with `why`), into `out`.
template <typename T, typename Parse>
std::optional<Error> take(std::string_view option, const std::vector<std::string>& values,
                          std::vector<T>& out, Parse parse, std::string_view why) {
    if (values.size() > kMaxFilterValues)
        return bad(option, "at most " + std::to_string(kMaxFilterValues) + " values");
    for (const std::string& text : values) {
        auto value = parse(text);
        if (!value) return bad(option, "invalid value '" + text + "' (" + std::string(why) + ")");
        out.push_back(std::move(*value));
    }
    return std::nullopt;
}

}  // namespace

bool SocketFilter::by_flow() const {
    return !ports.empty() || !local_ports.empty() || !remote_ports.empty() || !remotes.empty();
}

bool SocketFilter::by_owner() const { return !comms.empty() || by_process_details(); }

bool SocketFilter::flow_selected(const cw_flow& flow) const {
    auto has = [](const std::vector<uint16_t>& list, uint16_t port) {
        return std::find(list.begin(), list.end(), port) != list.end();
    };
    if (!ports.empty() && !has(ports, flow.sport) && !has(ports, flow.dport)) return false;
    if (!local_ports.empty() && !has(local_ports, flow.sport)) return false;
    if (!remote_ports.empty() && !has(remote_ports, flow.dport)) return false;
    const bool inet6 = flow.family == AF_INET6;
    return remotes.empty() ||
           any_of(remotes, [&](const Cidr& range) { return contains(range, inet6, flow.daddr); });
}

bool SocketFilter::owner_selected(std::string_view comm, const OwnerDetails* details) const {
    if (!comms.empty() && !any_of(comms, [&](const std::string& c) { return c == comm; }))
        return false;
    if (!by_process_details()) return true;
    if (!details) return false;
    if (!containers.empty()) {
        const std::string& id = details->container_id.value_or("");
        if (!any_of(containers, [&](const std::string& p) { return id.starts_with(p); }))
            return false;
    }
    return cgroups.empty() || any_of(cgroups, [&](const std::string& path) {
               return path == "/" || details->cgroup == path ||
                      (details->cgroup.starts_with(path) && details->cgroup[path.size()] == '/');
           });
}

Result<SocketFilter> make_socket_filter(const FilterArgs& args) {
    SocketFilter f;
    constexpr std::string_view kPort = "a port, 1 to 65535";
    std::optional<Error> error = take("--port", args.ports, f.ports, port_of, kPort);
    if (!error) error = take("--lport", args.local_ports, f.local_ports, port_of, kPort);
    if (!error) error = take("--rport", args.remote_ports, f.remote_ports, port_of, kPort);
    if (!error)
        error = take("--remote", args.remotes, f.remotes, parse_cidr,
                     "an IPv4 or IPv6 address, or a range such as 10.0.0.0/8 or fd00::/8");
    if (!error)
        error = take(
            "--comm", args.comms, f.comms,
            [](const std::string& s) -> std::optional<std::string> {
                if (s.empty() || s.size() > kCommBytes) return std::nullopt;
                return s;
            },
            "a process name (comm) of 1 to 15 bytes, as ps -o comm shows it");
    if (!error)
        error = take(
            "--container", args.containers, f.containers,
            [](const std::string& s) -> std::optional<std::string> {
                if (s.empty() || s.size() > 64 ||
                    s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
                    return std::nullopt;
                std::string lower = s;
                std::transform(lower.begin(), lower.end(), lower.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                return lower;
            },
            "a container id or its prefix: 1 to 64 hex digits");
    if (!error)
        error = take("--cgroup", args.cgroups, f.cgroups, cgroup_of,
                     "an absolute cgroup v2 path as /proc/PID/cgroup shows it, e.g. "
                     "/system.slice/nginx.service");
    if (error) return *error;
    return f;
}

bool CloseSelector::selected(const cw_flow& flow, const cw_origin* opener,
                             const cw_origin* closer) {
    if (!filter_.flow_selected(flow)) return false;
    if (!filter_.by_owner()) return true;
    return (opener && thread_selected(*opener)) || (closer && thread_selected(*closer));
}

bool CloseSelector::thread_selected(const cw_origin& thread) {
    const std::string_view comm(thread.comm, strnlen(thread.comm, sizeof(thread.comm)));
    if (!filter_.by_process_details()) return filter_.owner_selected(comm, nullptr);
    const std::pair<uint32_t, uint64_t> key{thread.pid, thread.task_start_ns};
    const OwnerDetails* details = details_.find(key);
    if (!details) details = &details_.insert(key, owner_details(static_cast<pid_t>(thread.pid)));
    return filter_.owner_selected(comm, details);
}

}  // namespace cwtrace

#include "owners/owners.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

namespace cwtrace {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

// "socket:[12345]" -> 12345
bool socket_inode(std::string_view link, uint64_t& ino) {
    constexpr std::string_view prefix = "socket:[";
    if (!link.starts_with(prefix) || !link.ends_with(']')) return false;
    return parse_int(link.substr(prefix.size(), link.size() - prefix.size() - 1), ino);
}

// Adds the wanted sockets held by one process's fd table.
void scan_process(int proc_fd, pid_t pid, const InodeFilter& wanted, HeldSockets& found) {
    const std::string fd_dir = std::to_string(pid) + "/fd";
    int dir_fd = openat(proc_fd, fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return;  // gone, or a kernel thread
    DirPtr dir(fdopendir(dir_fd));
    if (!dir) {
        close(dir_fd);
        return;
    }
    char link[64];
    while (dirent* entry = readdir(dir.get())) {
        if (entry->d_name[0] == '.') continue;
        ssize_t n = readlinkat(dir_fd, entry->d_name, link, sizeof link);
        uint64_t ino = 0;
        if (n <= 0 || !socket_inode(std::string_view(link, n), ino) || !wanted(ino)) continue;
        found.emplace_back(ino, pid);
    }
}

}  // namespace

std::unordered_set<uint64_t> socket_inodes_of(pid_t pid, const std::string& proc_root) {
    std::unordered_set<uint64_t> inodes;
    const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
    int dir_fd = open(fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return inodes;
    DirPtr dir(fdopendir(dir_fd));
    if (!dir) {
        close(dir_fd);
        return inodes;
    }
    char link[64];
    while (dirent* entry = readdir(dir.get())) {
        if (entry->d_name[0] == '.') continue;
        ssize_t n = readlinkat(dir_fd, entry->d_name, link, sizeof link);
        uint64_t ino = 0;
        if (n > 0 && socket_inode(std::string_view(link, n), ino)) inodes.insert(ino);
    }
    return inodes;
}

uint64_t read_start_ticks(pid_t pid, const std::string& proc_root) {
    std::ifstream in(proc_root + "/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // The comm field may contain spaces and parentheses: count fields after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
    }
    return 0;
}

bool same_process(pid_t pid, uint64_t start_boottime_ns, const std::string& proc_root) {
    const long ticks_per_second = sysconf(_SC_CLK_TCK);
    if (ticks_per_second <= 0) return true;
    const uint64_t ns_per_tick = 1'000'000'000ULL / static_cast<uint64_t>(ticks_per_second);
    const uint64_t ticks = read_start_ticks(pid, proc_root);
    return ticks != 0 && ticks == start_boottime_ns / ns_per_tick;
}

std::string read_comm(pid_t pid, const std::string& proc_root) {
    std::ifstream in(proc_root + "/" + std::to_string(pid) + "/comm");
    std::string comm;
    std::getline(in, comm);
    return comm;
}

std::unordered_map<uint64_t, Owner> owners_of(const HeldSockets& held,
                                              const std::string& proc_root) {
    std::unordered_map<uint64_t, Owner> owners;
    owners.reserve(held.size());
    for (auto [ino, pid] : held) {
        auto [it, inserted] = owners.try_emplace(ino, Owner{pid, {}});
        if (!inserted && pid < it->second.pid) it->second.pid = pid;
    }
    std::unordered_map<pid_t, std::string> comms;
    for (auto& [ino, owner] : owners) {
        auto [it, inserted] = comms.try_emplace(owner.pid);
        if (inserted) it->second = read_comm(owner.pid, proc_root);
        owner.comm = it->second;
    }
    return owners;
}

std::unordered_map<uint64_t, Owner> find_socket_owners(const std::unordered_set<uint64_t>& wanted,
                                                       const std::string& proc_root) {
    if (wanted.empty()) return {};
    return find_socket_owners([&](uint64_t ino) { return wanted.count(ino) > 0; }, proc_root);
}

std::unordered_map<uint64_t, Owner> find_socket_owners(const InodeFilter& wanted,
                                                       const std::string& proc_root) {
    return owners_of(find_socket_holders(wanted, proc_root), proc_root);
}

HeldSockets find_socket_holders(const InodeFilter& wanted, const std::string& proc_root,
                                const ProgressFn& progress) {
    int proc_fd = open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0) return {};
    DirPtr proc(fdopendir(proc_fd));
    if (!proc) {
        close(proc_fd);
        return {};
    }
    std::vector<pid_t> pids;
    while (dirent* entry = readdir(proc.get())) {
        pid_t pid = 0;
        if (parse_int(std::string_view(entry->d_name), pid) && pid > 0) pids.push_back(pid);
    }
    // One readlink per descriptor is the cost (a million sockets: a million readlinks): the
    // processes are split between a few threads, each with its own result, merged after.
    const size_t threads =
        pids.size() > 64 ? std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4) : 1;
    // Plain pairs, not a map: the threads would keep a map's million nodes in their own malloc
    // arenas after it is freed.
    std::vector<HeldSockets> found(threads);
    std::atomic<size_t> scanned = 0;  // told to `progress` by the first share's thread
    auto scan_share = [&](size_t share) {
        for (size_t i = share; i < pids.size(); i += threads) {
            scan_process(proc_fd, pids[i], wanted, found[share]);
            if (++scanned % 64 == 0 && share == 0 && progress) progress(scanned, pids.size());
        }
    };
    std::vector<std::thread> workers;
    for (size_t share = 1; share < threads; ++share) workers.emplace_back(scan_share, share);
    scan_share(0);
    for (auto& worker : workers) worker.join();
    size_t total = 0;
    for (const HeldSockets& share : found) total += share.size();
    HeldSockets all;
    all.reserve(total);
    for (HeldSockets& share : found) {
        all.insert(all.end(), share.begin(), share.end());
        HeldSockets().swap(share);
    }
    return all;
}

}  // namespace cwtrace

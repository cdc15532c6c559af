// What /proc tells about a socket's owner beyond its pid: command line, pid inside its own pid
// namespace, cgroup and container id. Readers take `proc_root` so tests can point them at a tree
// of their own; the text parsers are pure.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

constexpr size_t kMaxCmdlineBytes = 4096;  // longer command lines are cut there

// /proc/PID/cmdline with its NUL separators as spaces, trimmed; empty for kernel threads, zombies
// and processes that are gone. Other bytes are kept as they are: renderers escape them.
std::string read_cmdline(pid_t pid, const std::string& proc_root = "/proc");

// The pid inside the innermost pid namespace (the last NSpid value of /proc/PID/status), or
// nullopt when the process is in the namespace of the /proc mount (NSpid holds one value), is gone,
// or the kernel predates NSpid (4.1).
std::optional<pid_t> namespaced_pid(pid_t pid, const std::string& proc_root = "/proc");

// The process's cgroup path from /proc/PID/cgroup, relative to the reader's cgroup namespace:
// the v2 entry ("0::/path") unless it is "/" while a v1 hierarchy names a deeper one (hybrid
// setups, where the container runtime files processes only under v1); then the first such v1
// path. Empty when unreadable.
std::string cgroup_path(pid_t pid, const std::string& proc_root = "/proc");

// The full 64-hex-digit container id a cgroup path names, or nullopt. Recognized, innermost match
// first: a path component "docker-<id>.scope", "cri-containerd-<id>.scope", "crio-<id>.scope",
// "libpod-<id>.scope" (systemd cgroup drivers, with or without kubepods slices above), or a
// component that is exactly the id ("/docker/<id>", "/kubepods/burstable/pod<uid>/<id>" and other
// cgroupfs drivers). Monitor processes ("crio-conmon-<id>.scope", "libpod-conmon-<id>.scope") are
// not containers. Shorten it to 12 digits for display, as `docker ps` does.
std::optional<std::string> container_id(std::string_view cgroup_path);

// Everything above about one process.
struct ProcessDetails {
    std::string cmdline;
    std::optional<pid_t> namespaced_pid;
    std::string cgroup;
    std::optional<std::string> container_id;
};
ProcessDetails read_process_details(pid_t pid, const std::string& proc_root = "/proc");

// Pure parsers of /proc file contents.
std::string format_cmdline(std::string_view raw);  // NULs to spaces, trimmed, cut to the bound
std::optional<pid_t> parse_nspid(std::string_view status_text);
std::string parse_cgroup_path(std::string_view cgroup_text);

}  // namespace cwtrace

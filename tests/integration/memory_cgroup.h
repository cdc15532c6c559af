// A memory cgroup for a test to run cwtrace in (tests of what a memory limit does to the load).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace cwtrace::testing {

// A memory cgroup limited to `bytes` (v2, or v1's memory controller), removed when done.
class MemoryCgroup {
  public:
    explicit MemoryCgroup(size_t bytes) {
        namespace fs = std::filesystem;
        const std::string name = "cwtrace-test-" + std::to_string(getpid());
        for (const std::string root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
            std::ifstream controllers(root + "/cgroup.controllers");
            std::string all((std::istreambuf_iterator<char>(controllers)), {});
            if (all.find("memory") == std::string::npos) continue;
            std::ofstream(root + "/cgroup.subtree_control") << "+memory";
            if (use(root + "/" + name, "memory.max", bytes)) return;
        }
        if (fs::exists("/sys/fs/cgroup/memory/cgroup.procs"))
            use("/sys/fs/cgroup/memory/" + name, "memory.limit_in_bytes", bytes);
    }
    ~MemoryCgroup() {
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }
    // The file a process writes its pid into to join; empty when there is no memory controller.
    std::string procs() const { return dir_.empty() ? "" : dir_ + "/cgroup.procs"; }
    const std::string& dir() const { return dir_; }

  private:
    bool use(const std::string& dir, const std::string& limit_file, size_t bytes) {
        std::error_code ec;
        std::filesystem::create_directory(dir, ec);
        std::ofstream limit(dir + "/" + limit_file);
        if (!(limit << bytes << std::flush)) {
            ::rmdir(dir.c_str());
            return false;
        }
        dir_ = dir;
        return true;
    }
    std::string dir_;
};

}  // namespace cwtrace::testing

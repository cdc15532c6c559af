// Listing the network namespaces processes are in, from a /proc-like tree of our own.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sockets/netns.h"

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

class FakeProc {
  public:
    FakeProc() {
        char dir[] = "/tmp/cwtrace-netns-test-XXXXXX";
        root_ = mkdtemp(dir);
    }
    ~FakeProc() { fs::remove_all(root_); }

    // Process `pid` in namespace `ns` (one file per namespace; processes in it hard-link it).
    void process(int pid, const std::string& ns) {
        const fs::path file = root_ / ("ns-" + ns);
        if (!fs::exists(file)) std::ofstream(file) << ns;
        fs::create_directories(root_ / std::to_string(pid) / "ns");
        fs::create_hard_link(file, root_ / std::to_string(pid) / "ns" / "net");
    }
    uint64_t inode(const std::string& ns) const {
        struct stat st;
        return stat((root_ / ("ns-" + ns)).c_str(), &st) == 0 ? st.st_ino : 0;
    }
    std::string root() const { return root_; }

  private:
    fs::path root_;
};

TEST(NetNamespaces, EachOtherNamespaceOnceThroughItsLowestPid) {
    FakeProc proc;
    proc.process(1, "host");
    proc.process(40, "host");
    proc.process(812, "web");
    proc.process(77, "web");
    proc.process(3000, "db");
    fs::create_directories(proc.root() + "/self");  // not a pid
    fs::create_directories(proc.root() + "/55");    // a kernel thread gone meanwhile: no ns

    const auto found = other_network_namespaces(proc.inode("host"), proc.root());
    ASSERT_EQ(found.size(), 2u);
    const bool web_first = found[0].inode == proc.inode("web");
    const NetNamespace& web = found[web_first ? 0 : 1];
    const NetNamespace& db = found[web_first ? 1 : 0];
    EXPECT_EQ(web.inode, proc.inode("web"));
    EXPECT_EQ(web.pid, 77);
    EXPECT_EQ(db.inode, proc.inode("db"));
    EXPECT_EQ(db.pid, 3000);
    EXPECT_LT(found[0].inode, found[1].inode) << "in inode order";
}

TEST(NetNamespaces, NoneOtherThanOurs) {
    FakeProc proc;
    proc.process(1, "host");
    EXPECT_TRUE(other_network_namespaces(proc.inode("host"), proc.root()).empty());
    EXPECT_TRUE(other_network_namespaces(0, proc.root() + "/missing").empty());
}

TEST(NetNamespaces, OurOwnIsKnown) { EXPECT_NE(own_network_namespace(), 0u); }

}  // namespace
}  // namespace cwtrace

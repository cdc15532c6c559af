// The stack resolver's caches of processes: bounded on a host of short-lived processes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "owners/owners.h"
#include "report/stack_resolver.h"

using namespace cwtrace;

// A long run on a host of short-lived processes: what was cached to symbolize a process goes once
// it has exited, unless a tracked socket still names it.
TEST(StackResolverCaches, ExitedProcessesForgottenUnlessKept) {
    StackResolver resolver([](int32_t) { return std::vector<uint64_t>{}; });
    const auto self = static_cast<uint32_t>(getpid());
    const uint64_t ns_per_tick = 1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    const uint64_t self_start = read_start_ticks(getpid()) * ns_per_tick;
    ASSERT_TRUE(same_process(getpid(), self_start));
    const StackResolver::ProcessKey alive{self, self_start};
    const StackResolver::ProcessKey reused{self, self_start + 1'000'000'000};  // same pid, later
    const StackResolver::ProcessKey kept{0x7ffffff0u, 1};                      // gone, still named
    for (const auto& [pid, start] : {alive, reused, kept}) resolver.note_process(pid, start);
    ASSERT_EQ(resolver.processes_known(), 3u);

    EXPECT_EQ(resolver.forget_exited({kept}), 1u);
    EXPECT_EQ(resolver.processes_known(), 2u);
    EXPECT_EQ(resolver.forget_exited({}), 1u) << "the exited one, once no socket names it";
    EXPECT_EQ(resolver.processes_known(), 1u) << "a live process stays";
}

// What reading processes' files lost is said in one line (-v, at each report).
TEST(StackResolverCaches, ReadLossesNameRefusedFiles) {
    StackResolver resolver([](int32_t) { return std::vector<uint64_t>{}; });
    const std::string fifo = "/tmp/cwtrace-losses-" + std::to_string(getpid());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const uint64_t before = untrusted_file_stats().refused[1].load();
    EXPECT_FALSE(UntrustedFile::open(fifo, capped_at(1024)));
    unlink(fifo.c_str());
    const std::string losses = resolver.read_losses();
    EXPECT_NE(losses.find("files refused: " + std::to_string(before + 1) + " not a regular file"),
              std::string::npos)
        << losses;
}

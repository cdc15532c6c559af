// The CWTRACE_* environment, read once: sizes, switches, and the values that are ignored.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "app/config.h"

namespace cwtrace {
namespace {

EnvConfig read(const std::map<std::string, std::string>& env) {
    return read_env_config([&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

TEST(EnvConfig, NothingSetKeepsEveryDefault) {
    const EnvConfig c = read({});
    EXPECT_EQ(c.origin_map_entries, 0u);
    EXPECT_EQ(c.stack_map_entries, 0u);
    EXPECT_EQ(c.ringbuf_bytes, 0u);
    EXPECT_EQ(c.copy_ringbuf_bytes, 0u);
    EXPECT_FALSE(c.probed_reads);
    EXPECT_FALSE(c.proc_owners);
    EXPECT_EQ(c.tracefs, "");
    EXPECT_TRUE(c.warnings.empty());
}

TEST(EnvConfig, SizesAndSwitchesAreRead) {
    const EnvConfig c = read({{"CWTRACE_ORIGIN_MAP_ENTRIES", "64"},
                              {"CWTRACE_STACK_MAP_ENTRIES", "128"},
                              {"CWTRACE_RINGBUF_BYTES", "4096"},
                              {"CWTRACE_COPY_RINGBUF_BYTES", "4294967295"},
                              {"CWTRACE_PROBED_READS", "1"},
                              {"CWTRACE_PROC_OWNERS", ""},
                              {"CWTRACE_TRACEFS", "/mnt/tracing"}});
    EXPECT_EQ(c.origin_map_entries, 64u);
    EXPECT_EQ(c.stack_map_entries, 128u);
    EXPECT_EQ(c.ringbuf_bytes, 4096u);
    EXPECT_EQ(c.copy_ringbuf_bytes, 4294967295u);
    EXPECT_TRUE(c.probed_reads);
    EXPECT_TRUE(c.proc_owners);  // set, whatever its value
    EXPECT_EQ(c.tracefs, "/mnt/tracing");
    EXPECT_TRUE(c.warnings.empty());
}

TEST(EnvConfig, ABadSizeIsIgnoredWithAWarningNamingIt) {
    const EnvConfig c = read({{"CWTRACE_ORIGIN_MAP_ENTRIES", "12abc"},
                              {"CWTRACE_STACK_MAP_ENTRIES", "0"},
                              {"CWTRACE_RINGBUF_BYTES", "4294967296"},
                              {"CWTRACE_COPY_RINGBUF_BYTES", "-1"}});
    EXPECT_EQ(c.origin_map_entries, 0u);
    EXPECT_EQ(c.stack_map_entries, 0u);
    EXPECT_EQ(c.ringbuf_bytes, 0u);
    EXPECT_EQ(c.copy_ringbuf_bytes, 0u);
    ASSERT_EQ(c.warnings.size(), 4u);
    EXPECT_EQ(c.warnings[0], "ignoring CWTRACE_ORIGIN_MAP_ENTRIES=12abc: not a size");
    EXPECT_EQ(c.warnings[2], "ignoring CWTRACE_RINGBUF_BYTES=4294967296: not a size");
}

}  // namespace
}  // namespace cwtrace

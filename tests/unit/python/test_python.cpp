// Python frames: the offsets table, the 3.11 location-table decoder checked against CPython's
// own co_lines() on real code objects, reading code objects out of a live interpreter, and how
// Python frames take the place of the interpreter's native ones.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "python/python_linetable.h"
#include "python/python_offsets.h"
#include "python/python_process.h"
#include "python/python_stacks.h"

namespace cwtrace {
namespace {

constexpr const char* kDebianPython = "/usr/bin/python3";

TEST(PythonOffsets, KnownVersionsOnlyAndTheirTableFormat) {
    auto py311 = python_offsets({3, 11});
    ASSERT_TRUE(py311);
    EXPECT_EQ(py311->line_table, LineTableFormat::Locations);
    EXPECT_EQ(to_string(py311->version), "3.11");
    // Versions without a verified row are refused, never approximated by a neighbour.
    EXPECT_FALSE(python_offsets({3, 7}));
    EXPECT_FALSE(python_offsets({3, 14}));
    EXPECT_FALSE(python_offsets({2, 7}));

    cw_python_proc k = kernel_offsets(*py311);
    EXPECT_EQ(k.frame_code, py311->frame_code);
    EXPECT_EQ(k.code_adaptive, py311->code_adaptive);
    EXPECT_EQ(k.runtime_addr, 0u);  // the process's part is filled in later
}

TEST(PythonOffsets, VersionFromTheMappedFileName) {
    EXPECT_EQ(python_version_of_file("python3.11"), (PythonVersion{3, 11}));
    EXPECT_EQ(python_version_of_file("libpython3.11.so.1.0"), (PythonVersion{3, 11}));
    EXPECT_EQ(python_version_of_file("libpython3.9d.so"), (PythonVersion{3, 9}));
    EXPECT_EQ(python_version_of_file("python3.12-dbg"), (PythonVersion{3, 12}));
    EXPECT_EQ(python_version_of_file("libpython3.13t.so.1.0"), (PythonVersion{3, 13}));
    EXPECT_FALSE(python_version_of_file("python3"));
    EXPECT_FALSE(python_version_of_file("python"));
    EXPECT_FALSE(python_version_of_file("pythonista"));
    EXPECT_FALSE(python_version_of_file("python3.x"));
    EXPECT_FALSE(python_version_of_file("libc.so.6"));
}

std::string run_python(const std::string& script) {
    if (access(kDebianPython, X_OK) != 0) return "";
    std::string cmd = std::string(kDebianPython) + " - <<'PYEOF'\n" + script + "\nPYEOF\n";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

// Code objects covering every entry kind: short forms, one-line forms, no-column and long forms
// (big line jumps, multi-line expressions), and instructions without a line.
constexpr const char* kDumpLineTables = R"(
import sys
if sys.version_info < (3, 11):
    print("skip", sys.version_info[:2]); sys.exit(0)
src = '''
def short(a, b):
    return a + b

def jumps(xs):
    total = 0
    for x in xs:
        if x > 3:
            total += (x *
                      2)
''' + "\n" * 300 + '''
        else:
            total -= 1
    try:
        return total
    finally:
        print("done")

class Crawler:
    def fetch_page(self, url):
        with open(url) as f:
            return [line.strip() for line in f
                    if line]
'''
top = compile(src, "crawler.py", "exec")
def walk(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from walk(c)
for code in walk(top):
    print("code", code.co_qualname, code.co_firstlineno, code.co_linetable.hex())
    for start, end, line in code.co_lines():
        print("range", start, end, "none" if line is None else line)
)";

TEST(PythonLineTable, AgreesWithCPythonOnRealCodeObjects) {
    const std::string dump = run_python(kDumpLineTables);
    if (dump.empty() || dump.starts_with("skip"))
        GTEST_SKIP() << "no Python 3.11+ at " << kDebianPython;
    std::istringstream in(dump);
    std::string word, name;
    std::vector<uint8_t> table;
    int first_line = 0, codes = 0, checked = 0, without_line = 0;
    while (in >> word) {
        if (word == "code") {
            std::string hex;
            in >> name >> first_line >> hex;
            table = from_hex(hex);
            ++codes;
            continue;
        }
        ASSERT_EQ(word, "range");
        int start = 0, end = 0;
        std::string line;
        in >> start >> end >> line;
        for (int offset = start; offset < end; offset += 2) {
            auto got = python_line_at(table, first_line, static_cast<uint32_t>(offset));
            if (line == "none") {
                EXPECT_FALSE(got) << name << " offset " << offset;
                ++without_line;
            } else {
                EXPECT_EQ(got, std::optional<int>(std::stoi(line))) << name << " offset " << offset;
            }
            ++checked;
        }
    }
    EXPECT_GE(codes, 5);
    EXPECT_GT(checked, 100);
    EXPECT_GT(without_line, 0);
}

TEST(PythonLineTable, TruncatedOrMalformedTablesGiveNoLine) {
    // One entry: one-line form 0 (code 10), 1 code unit, two column bytes.
    const std::vector<uint8_t> good = {0x80 | (10 << 3), 0x01, 0x02};
    EXPECT_EQ(python_line_at(good, 7, 0), std::optional<int>(7));
    EXPECT_FALSE(python_line_at(good, 7, 2));  // past the end
    const std::vector<uint8_t> cut = {0x80 | (10 << 3), 0x01};
    EXPECT_FALSE(python_line_at(cut, 7, 0));
    const std::vector<uint8_t> no_marker = {0x10, 0x01, 0x02};
    EXPECT_FALSE(python_line_at(no_marker, 7, 0));
    const std::vector<uint8_t> endless_varint = {
        0x80 | (13 << 3), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f};
    EXPECT_FALSE(python_line_at(endless_varint, 7, 0));
}

// A live /usr/bin/python3 that prints the address of a code object, then waits.
class LivePython {
  public:
    LivePython() {
        int fds[2];
        if (access(kDebianPython, X_OK) != 0 || pipe(fds) != 0) return;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            execl(kDebianPython, kDebianPython, "-c",
                  "import sys, time\n"
                  "class Crawler:\n"
                  "    def fetch_page(self):\n"
                  "        return 1\n"
                  "print(hex(id(Crawler.fetch_page.__code__)), flush=True)\n"
                  "time.sleep(30)\n",
                  nullptr);
            _exit(127);
        }
        close(fds[1]);
        FILE* f = fdopen(fds[0], "r");
        char line[64] = {};
        if (f && fgets(line, sizeof line, f)) code_ = std::stoull(line, nullptr, 16);
        if (f) fclose(f);
    }
    ~LivePython() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    uint64_t code() const { return code_; }

  private:
    pid_t pid_ = -1;
    uint64_t code_ = 0;
};

TEST(PythonProcess, FindsTheInterpreterAndReadsItsCodeObjects) {
    LivePython python;
    if (python.code() == 0) GTEST_SKIP() << "cannot run " << kDebianPython;
    auto maps = ProcessMaps::read(python.pid());
    ASSERT_TRUE(maps);
    PythonFiles files;
    auto interp = find_python(*maps, files);
    ASSERT_TRUE(interp) << "no CPython found in pid " << python.pid();
    EXPECT_NE(interp->runtime_addr, 0u);
    if (!interp->offsets)
        GTEST_SKIP() << "python " << to_string(interp->version) << " not supported";

    const ProcessMemory memory(python.pid());
    // The runtime's interpreter list is readable and non-empty at the address found.
    auto head = memory.read_u64(interp->runtime_addr + interp->offsets->runtime_interp_head);
    ASSERT_TRUE(head);
    EXPECT_NE(*head, 0u);

    auto code = read_python_code(memory, *interp->offsets, python.code());
    ASSERT_TRUE(code);
    EXPECT_EQ(code->qualname, "Crawler.fetch_page");
    EXPECT_EQ(code->filename, "<string>");
    EXPECT_EQ(code->first_line, 3);
    EXPECT_FALSE(code->line_table.empty());
    // RESUME on the def line, then the body.
    EXPECT_EQ(python_line_at(code->line_table, code->first_line, 0), std::optional<int>(3));
    EXPECT_EQ(python_line_at(code->line_table, code->first_line, 2), std::optional<int>(4));
}

TEST(PythonMerge, PythonFramesReplaceTheInterpreterLoop) {
    std::vector<Frame> native = {{"connect", "/lib/x86_64-linux-gnu/libc.so.6"},
                                 {"sock_connect", "/usr/bin/python3.11"},
                                 {"_PyEval_EvalFrameDefault", "/usr/bin/python3.11"},
                                 {"[unknown]", "/usr/bin/python3.11"}};
    Frame py{"fetch_page", "crawler.py"};
    py.file = "crawler.py";
    py.line = 12;
    auto merged = merge_python_frames(native, {py, {"main", "crawler.py"}});
    ASSERT_EQ(merged.size(), 4u);
    EXPECT_EQ(merged[0].function, "connect");
    EXPECT_EQ(merged[1].function, "sock_connect");
    EXPECT_EQ(merged[2].function, "fetch_page");
    EXPECT_EQ(merged[2].line, std::optional<int>(12));
    EXPECT_EQ(merged[3].function, "main");

    // Without the loop among the native frames (a short frame-pointer walk), after them all.
    auto appended = merge_python_frames({{"connect", "libc.so.6"}}, {py});
    ASSERT_EQ(appended.size(), 2u);
    EXPECT_EQ(appended[1].function, "fetch_page");
}

}  // namespace
}  // namespace cwtrace

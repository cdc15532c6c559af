// Asks cwtrace's own definitions what they accept, without tracing, so that the packaging checks
// (check_cli_docs.py) compare the man page and the shell completions with the code itself:
//   cli_probe env        the CWTRACE_* variables read_env_config() asks for, one a line
//   cli_probe ARGS...    parse_cli("cwtrace" ARGS...): its message (the help text, an error), or
//                        "parsed"; exit status parse_cli's (0 parsed or help, 2 rejected)
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/config.h"

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "env") {
        std::set<std::string> names;
        cwtrace::read_env_config([&](const char* name) -> const char* {
            names.insert(name);
            return nullptr;
        });
        for (const std::string& name : names) std::printf("%s\n", name.c_str());
        return 0;
    }
    std::vector<const char*> args = {"cwtrace"};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    const cwtrace::CliResult cli = cwtrace::parse_cli(static_cast<int>(args.size()), args.data());
    std::fputs(cli.options ? "parsed\n" : cli.message.c_str(), stdout);
    return cli.exit_code;
}

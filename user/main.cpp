// cwtrace: TCP sockets stuck in CLOSE_WAIT, who owns them, and the code that opened them.
#include <cstdio>

#include "app/cli.h"
#include "app/render_command.h"
#include "app/run.h"

int main(int argc, char** argv) {
    cwtrace::CliResult cli = cwtrace::parse_cli(argc, argv);
    if (!cli.options) {
        std::fputs(cli.message.c_str(), cli.exit_code == 0 ? stdout : stderr);
        return cli.exit_code;
    }
    if (cli.options->command == cwtrace::Command::Render)
        return cwtrace::render_saved_report(*cli.options);
    return cwtrace::run(*cli.options);
}

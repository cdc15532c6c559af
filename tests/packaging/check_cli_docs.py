#!/usr/bin/env python3
"""The man page and the shell completions against cwtrace's own definitions, so they cannot drift.

    check_cli_docs.py CLI_PROBE SOURCE_DIR man|bash|zsh

The definitions come from the code through cli_probe (tests/packaging/cli_probe.cpp): the options
and their arity from parse_cli's help text, the fixed value sets from the message parse_cli gives
for a bad value ("supported: text, json, ..."), what `render` accepts by asking it, the CWTRACE_*
variables from read_env_config(). Every option must appear in each file and nothing else may.
Both completions are run as a user's TAB runs them (bash: its completion function; zsh:
compinit in an interactive zsh on a pseudo-terminal); the zsh specs are also read for arity.
"""
import os
import re
import subprocess
import sys
import tempfile

PROBE, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
MAN = os.path.join(SOURCE, "packaging/cwtrace.8")
BASH = os.path.join(SOURCE, "packaging/completions/cwtrace.bash")
ZSH = os.path.join(SOURCE, "packaging/completions/_cwtrace")
METRICS_GOLDEN = os.path.join(SOURCE, "tests/golden/metrics.prom")

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def probe(*args):
    done = subprocess.run([PROBE, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout


class Cli:
    """What the command line defines."""

    def __init__(self):
        status, help_text = probe("--help")
        assert status == 0, f"cli_probe --help: status {status}"
        self.names = set()  # every spelling: -p and --pid
        self.takes_value = set()
        self.aliases = {}  # name -> all its spellings
        self.placeholders = {}  # name -> what --help shows for its value: PATH, HOST:PORT
        self.commands = set()
        section = None
        for line in help_text.splitlines():
            if re.match(r"^\S.*:$", line):
                section = line
                continue
            m = re.match(r"^  ((?:-\w,)?--?[\w-]+)(?: ([A-Z][A-Z:]*)(?: \.\.\.)?)?(?:\s{2,}|$)", line)
            if section == "Options:" and m:
                spellings = m.group(1).split(",")
                self.names.update(spellings)
                for s in spellings:
                    self.aliases[s] = set(spellings)
                if m.group(2):
                    self.takes_value.update(spellings)
                    self.placeholders.update((s, m.group(2)) for s in spellings)
            m = re.match(r"^  (\w+)\s{2,}", line)
            if section == "Subcommands:" and m:
                self.commands.add(m.group(1))
        assert "--pid" in self.takes_value and "-v" in self.names, help_text
        self.fixed = {}  # option -> its fixed set of values, where parse_cli names one
        for name in self.takes_value:
            status, message = probe(name, "@not-a-value@")
            m = re.search(r"\((?:supported: )?([\w, ]+?)\)$", message.strip())
            if status == 2 and m and ("supported:" in message or " or " in m.group(1)):
                self.fixed[name] = set(re.split(r", | or ", m.group(1)))
        # What `render` takes: parse_cli names a tracing option given to it.
        self.render = set()
        for name in self.names:
            args = [name, "x"] if name in self.takes_value else [name]
            _, message = probe("render", "/nonexistent/report.json", *args)
            if "applies to tracing" not in message:
                self.render.add(name)
        status, env = probe("env")
        self.env = set(env.split())
        assert status == 0 and self.env, "cli_probe env"

    def accepts(self, option, value):
        return probe(option, value)[0] == 0


def roff_text(s):
    return s.replace("\\-", "-").replace("\\%", "")


def man_sections(text):
    sections, name = {}, None
    for line in text.splitlines():
        m = re.match(r'^\.SH "?([^"]*)"?$', line)
        if m:
            name = m.group(1)
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def tagged_items(lines):
    """(tag, body) of each .TP item."""
    items, i = [], 0
    while i < len(lines):
        if lines[i] == ".TP" and i + 1 < len(lines):
            body = []
            j = i + 2
            ends = (".TP", ".PP")
            while j < len(lines) and lines[j] not in ends and not lines[j].startswith(".S"):
                body.append(lines[j])
                j += 1
            items.append((lines[i + 1], "\n".join(body)))
            i = j
        else:
            i += 1
    return items


def check_man(cli):
    text = open(MAN).read()
    for cmd in (["groff", "-t", "-man", "-Tutf8", "-ww", "-z", MAN],
                ["mandoc", "-Tlint", "-Wwarning", MAN]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        check(done.returncode == 0 and not done.stdout + done.stderr,
              f"{' '.join(cmd[:1])} warns: {done.stdout}{done.stderr}")
    sections = man_sections(text)
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS",
                 "FILES", "CAPABILITIES", "SECURITY", "EXAMPLES", "SEE ALSO"):
        check(name in sections, f"man: no {name} section")

    documented, metavars = set(), {}
    for tag, body in tagged_items(sections.get("OPTIONS", [])):
        names = [roff_text(n) for n in re.findall(r"\\fB((?:\\-){1,2}[\w\\-]+)\\fR", tag)]
        documented.update(names)
        metavar = re.search(r"\\fI([A-Z]+)\\fR", tag)
        for name in names:
            metavars[name] = metavar.group(1) if metavar else None
            # The same word for the value in both: --help's HOST:PORT is the page's HOST:PORT.
            check(metavar is None or
                  cli.placeholders.get(name, "").split(":")[0] == metavar.group(1),
                  f"man: {name}'s value is {metavar and metavar.group(1)}, --help says "
                  f"{cli.placeholders.get(name)}")
            check((metavar is not None) == (name in cli.takes_value),
                  f"man: {name}'s item {'lacks' if metavar is None else 'has'} a value")
            for value in cli.fixed.get(name, ()):
                check(re.search(rf"\b{re.escape(value)}\b", body),
                      f"man: {name}'s item does not name its value {value}")
    check(documented == cli.names,
          f"man OPTIONS: missing {sorted(cli.names - documented)}, "
          f"not options {sorted(documented - cli.names)}")
    # Anywhere in the page (examples, prose): only options that exist.
    for long in set(re.findall(r"(?<![\w\\])\\-\\-[a-z][a-z\\-]*[a-z]", text)):
        check(roff_text(long) in cli.names, f"man: names {roff_text(long)}, not an option")
    for short in set(re.findall(r"(?<![\w\\-])\\-([a-zA-Z])(?!\w)", text)):
        check("-" + short in cli.names, f"man: names -{short}, not an option")
    check(all(c in text for c in cli.commands), "man: a subcommand is not documented")

    env_tags = tagged_items(sections.get("ENVIRONMENT", []))
    env_items = {roff_text(tag.split()[-1]) for tag, _ in env_tags}
    check(env_items == cli.env,
          f"man ENVIRONMENT: missing {sorted(cli.env - env_items)}, "
          f"not read by cwtrace {sorted(env_items - cli.env)}")
    mentioned = set(re.findall(r"CWTRACE_[A-Z_]+", text))
    check(mentioned <= cli.env, f"man: names {sorted(mentioned - cli.env)}, not read by cwtrace")

    exposed = set(re.findall(r"^# TYPE (\w+) ", open(METRICS_GOLDEN).read(), re.M))
    metrics = set(re.findall(r"\bcwtrace_[a-z_]+", roff_text(text)))
    check(metrics == exposed, f"man METRICS: missing {sorted(exposed - metrics)}, "
                              f"not exposed {sorted(metrics - exposed)}")
    exit_codes = {tag.split()[-1] for tag, _ in tagged_items(sections.get("EXIT STATUS", []))}
    check(exit_codes == {"0", "1", "2"}, f"man EXIT STATUS: {sorted(exit_codes)}")
    return metavars


def bash_complete(lines, cwd):
    """COMPREPLY at the end of each line, and bash's own pid."""
    script = [f"source {BASH}", "complete -p cwtrace >/dev/null || exit 3", "echo $$"]
    for line in lines:
        # As bash splits it: words at blanks, and '=' a word of its own (COMP_WORDBREAKS).
        words = line.replace("=", " = ").split(" ")
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        script.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _cwtrace;"
                      ' printf "%s\\x1f" "${COMPREPLY[@]}"; echo')
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)],
                          capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, f"bash: status {done.returncode}: {done.stderr}"
    lines = done.stdout.split("\n")
    replies = done.stdout.split("\n")
    return int(replies[0]), [set(filter(None, r.split("\x1f"))) for r in replies[1:1 + len(lines)]]


def zsh_complete(lines, cwd):
    """The matches zsh offers at the end of each line (tests/packaging/zsh_complete.zsh)."""
    out = os.path.join(cwd, ".matches")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zsh_complete.zsh")
    done = subprocess.run(["zsh", "-f", script, os.path.dirname(ZSH), out, *lines],
                          capture_output=True, text=True, cwd=cwd, timeout=50)
    assert done.returncode == 0, f"zsh_complete: status {done.returncode}: {done.stderr}"
    blocks = open(out).read().split("@@END@@\n")
    return None, [set(b.split()) for b in blocks[1:1 + len(lines)]]  # blocks[0]: its start


# What TAB must offer at the end of each line, for both shells; then each option's value.
LINES = ["cwtrace -", "cwtrace render r.json -", "cwtrace ", "cwtrace --fo", "cwtrace --format=",
         "cwtrace --output render ", "cwtrace -v ", "cwtrace render "]
FILES = {"report.json", "cwtrace.prom"}  # the directory the shells complete in holds these


def check_completions(shell, complete, cli, metavars):
    """Runs `complete(lines, cwd)` -> (the shell's pid or None, the matches at each line's end)."""
    value_options = sorted(cli.takes_value)
    with tempfile.TemporaryDirectory() as cwd:
        for f in FILES:
            open(os.path.join(cwd, f), "w").close()
        pid, got = complete(LINES + [f"cwtrace {option} " for option in value_options], cwd)
    # bash offers every file; zsh those its patterns select (render: *.json), and directories.
    def files_ok(reply):
        return reply == FILES if shell == "bash" else bool(reply) and reply <= FILES

    check(got[0] == cli.names, f"{shell} `cwtrace -`: missing {sorted(cli.names - got[0])}, "
                               f"not options {sorted(got[0] - cli.names)}")
    check(got[1] == cli.render, f"{shell} `cwtrace render R -`: missing "
                                f"{sorted(cli.render - got[1])}, "
                                f"not render's {sorted(got[1] - cli.render)}")
    check(got[2] == cli.commands,
          f"{shell} `cwtrace `: {sorted(got[2])}, commands {sorted(cli.commands)}")
    check(got[3] == {"--format"}, f"{shell} `cwtrace --fo`: {sorted(got[3])}")
    check(got[4] == cli.fixed["--format"], f"{shell} `cwtrace --format=`: {sorted(got[4])}")
    check(got[5] == cli.commands, f"{shell} `cwtrace --output render `: {sorted(got[5])}")
    check(got[6] == cli.commands, f"{shell} `cwtrace -v `: {sorted(got[6])} (-v takes no value)")
    check(files_ok(got[7]), f"{shell} `cwtrace render `: {sorted(got[7])}, files {sorted(FILES)}")
    for option, reply in zip(value_options, got[len(LINES):]):
        kind = metavars.get(option)
        if option in cli.fixed:
            check(reply == cli.fixed[option],
                  f"{shell} {option}: {sorted(reply)}, the CLI's {sorted(cli.fixed[option])}")
        elif kind == "PATH":
            check(files_ok(reply), f"{shell} {option}: {sorted(reply)}, files {sorted(FILES)}")
        elif kind == "PID":
            check(reply and all(p.isdigit() for p in reply) and (pid is None or str(pid) in reply),
                  f"{shell} {option}: pids {sorted(reply)[:5]}... (its own: {pid})")
        else:
            for value in reply:
                check(cli.accepts(option, value), f"{shell} {option}: offers {value}, refused")


def zsh_specs():
    """(array, names, takes a value, value action) of each spec line of the common and trace
    arrays."""
    specs, array = [], None
    for line in open(ZSH):
        line = line.strip()
        m = re.match(r"^(common|trace)=\($", line)
        if m:
            array = m.group(1)
        elif line == ")":
            array = None
        elif array and line and not line.startswith("#"):
            head, _, rest = line.partition("[")
            names = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", head.split(")")[-1]))
            arity = bool(re.search(r"[+=](?:['},]|$)", head))
            action = rest.split("]", 1)[1] if "]" in rest else ""
            specs.append((array, names, arity, action))
    return specs


def check_zsh(cli, metavars):
    done = subprocess.run(["zsh", "-n", ZSH], capture_output=True, text=True)
    check(done.returncode == 0, f"zsh -n: {done.stderr}")
    text = open(ZSH).read()
    check(text.startswith("#compdef cwtrace\n"), "zsh: not a #compdef cwtrace file")
    specs = zsh_specs()
    names = set().union(*(n for _, n, _, _ in specs))
    check(names == cli.names, f"zsh: missing {sorted(cli.names - names)}, "
                              f"not options {sorted(names - cli.names)}")
    in_common = set().union(*(n for array, n, _, _ in specs if array == "common"))
    check(in_common == cli.render, f"zsh render's options: {sorted(in_common)}, "
                                   f"the CLI's {sorted(cli.render)}")
    for _, spec_names, arity, action in specs:
        for name in spec_names:
            check(arity == (name in cli.takes_value), f"zsh {name}: arity")
            values = re.search(r":\(([^)]*)\)$", action.strip("'\""))
            if name in cli.fixed:
                check(values and set(values.group(1).split()) == cli.fixed[name],
                      f"zsh {name}: values {action}, the CLI's {sorted(cli.fixed[name])}")
            elif values:
                for value in values.group(1).split():
                    value = value.replace("\\", "")
                    check(cli.accepts(name, value), f"zsh {name}: offers {value}, refused")
            if metavars.get(name) == "PATH":
                check("_files" in action, f"zsh {name}: does not complete files")
            if metavars.get(name) == "PID":
                check("_pids" in action, f"zsh {name}: does not complete pids")
    check_completions("zsh", zsh_complete, cli, metavars)
    # The loop that finds `render` skips option values: exactly the options that take one.
    skipped = re.search(r"^\s*(-f\|[^)]*)\)", text, re.M)
    skip = set(re.findall(r"--?[\w-]+", skipped.group(1))) if skipped else set()
    check(skip == cli.takes_value, f"zsh: values skipped after {sorted(skip ^ cli.takes_value)}")
    check(all(f"({c})" in text for c in cli.commands), "zsh: a subcommand is not completed")


def main():
    cli = Cli()
    part = sys.argv[3]
    metavars = check_man(cli) if part == "man" else check_man_quietly(cli)
    if part == "bash":
        check_completions("bash", bash_complete, cli, metavars)
    elif part == "zsh":
        check_zsh(cli, metavars)
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"{part}: {len(cli.names)} option spellings, {len(cli.env)} variables, "
          f"fixed values of {sorted(cli.fixed)}, render takes {sorted(cli.render)}: ok")
    return 0


def check_man_quietly(cli):
    """The man page's metavars (PATH, PID) without judging the page: that is the man test's job."""
    global failures
    saved, failures = failures, []
    metavars = check_man(cli)
    failures = saved
    return metavars


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""JSON reports against docs/report.schema.json (Debian's python3-jsonschema, draft 2020-12).

    check_report_schema.py SCHEMA REPORT...            every document (one a line) of each REPORT
    check_report_schema.py --strict SCHEMA REPORT...   and the schema refuses each report spoiled

--strict proves the schema is not too loose: a required member removed, an enum given a value
the renderer never writes, an undocumented member added, a null where the writer never puts one;
each of these must fail validation, or the check fails. Exit status 0 when all is as it should,
1 otherwise (each problem on a line), 2 when jsonschema is not installed.
"""
import copy
import json
import sys

try:
    import jsonschema
except ImportError:
    print("check_report_schema: python3-jsonschema is missing (scripts/install-deps)")
    sys.exit(2)


def documents(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def where(error):
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def spoiled(report):
    """(what was done, the spoiled copy) for each change the schema must refuse."""
    def change(what, edit):
        doc = copy.deepcopy(report)
        try:
            edit(doc)
        except (KeyError, IndexError, TypeError, AttributeError):
            return None  # this report has no such part
        return what, doc

    def delete(*path):
        def edit(doc):
            for key in path[:-1]:
                doc = doc[key]
            del doc[path[-1]]
        return edit

    def put(value, *path):
        def edit(doc):
            for key in path[:-1]:
                doc = doc[key]
            doc[path[-1]]  # the member exists: a KeyError otherwise
            doc[path[-1]] = value
        return edit

    def add(*path):
        def edit(doc):
            for key in path:
                doc = doc[key]
            doc["undocumented"] = 1
        return edit

    changes = [
        change("no schema", delete("schema")),
        change("schema cwtrace.report/2", put("cwtrace.report/2", "schema")),
        change("no stats.lost_events", delete("stats", "lost_events")),
        change("no stats.lost.ringbuf_full", delete("stats", "lost", "ringbuf_full")),
        change("an unknown files_refused cause", put({"cosmic_rays": 1}, "stats", "files_refused")),
        change("an undocumented top-level member", add()),
        change("an undocumented stats member", add("stats")),
        change("no sockets[0].diagnosis", delete("sockets", 0, "diagnosis")),
        change("diagnosis 'leaked'", put("leaked", "sockets", 0, "diagnosis")),
        change("family 'inet4'", put("inet4", "sockets", 0, "family")),
        change("port 70000", put(70000, "sockets", 0, "local", "port")),
        change("origin.kind 'listen'", put("listen", "sockets", 0, "origin", "kind")),
        change("no origin.user_stack", delete("sockets", 0, "origin", "user_stack")),
        change("a user frame without module",
               delete("sockets", 0, "origin", "user_stack", 0, "module")),
        change("an address in decimal", put("1234", "sockets", 0, "origin", "user_stack", 1,
                                             "address")),
        change("an address in a kernel frame",
               lambda doc: doc["sockets"][0]["origin"]["kernel_stack"][0].update(address="0x1")),
        change("an undocumented socket member", add("sockets", 0)),
        change("before_start null", put(None, "sockets", 0, "before_start")),
        change("no owner.cgroup", delete("sockets", 0, "owner", "cgroup")),
        change("owner.pod a number", lambda doc: doc["sockets"][0]["owner"].update(pod=7)),
        change("an undocumented owner member", add("sockets", 0, "owner")),
        change("closing.kind 'closed'", put("closed", "late_closes", 0, "closing", "kind")),
        change("no late_closes[0].sockets[0].closer",
               delete("late_closes", 0, "sockets", 0, "closer")),
        change("no close_wait_durations[0].buckets", delete("close_wait_durations", 0, "buckets")),
    ]
    return [c for c in changes if c]


def main(argv):
    strict = argv[:1] == ["--strict"]
    if strict:
        argv = argv[1:]
    with open(argv[0], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    problems, tried = [], set()
    for path in argv[1:]:
        for n, doc in enumerate(documents(path), 1):
            for error in validator.iter_errors(doc):
                problems.append(f"{path}:{n}: {where(error)}: {error.message[:300]}")
            if not strict:
                continue
            for what, bad in spoiled(doc):
                tried.add(what)
                if validator.is_valid(bad):
                    problems.append(f"{path}:{n}: the schema accepts a report with {what}")
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print(f"{len(argv) - 1} reports valid" +
              (f"; {len(tried)} kinds of spoiled report refused" if strict else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

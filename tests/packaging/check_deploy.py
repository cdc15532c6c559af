#!/usr/bin/env python3
"""deploy/ against cwtrace itself: the DaemonSet, the image and the queries must fit the code.

    check_deploy.py CLI_PROBE SOURCE_DIR manifest|metrics|image

manifest  deploy/daemonset.yaml parses, and its DaemonSet has what cwtrace needs on a node
          (hostPID, the capabilities, read-only BTF and tracefs mounts with CWTRACE_TRACEFS and
          --btf pointing into them, the metrics port scraped); its arguments parse as cwtrace's.
metrics   every metric and label the Grafana dashboard and the alert rules query is one cwtrace
          exposes (tests/golden/metrics.prom, the exposition the unit tests compare with
          render_metrics), and every dashboard query parses (promtool).
image     deploy/Dockerfile copies the static binary scripts/package makes onto an empty base,
          its arguments parse; a binary already in dist/ must not be dynamic.
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

PROBE, SOURCE, PART = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
DEPLOY = os.path.join(SOURCE, "deploy")
failures = []
# Labels every scrape adds, and Kubernetes' service discovery often does.
TARGET_LABELS = {"instance", "job", "namespace", "pod", "node"}


def check(ok, what):
    if not ok:
        failures.append(what)


def cli_accepts(args):
    done = subprocess.run([PROBE, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    check(done.returncode == 0 and done.stdout == "parsed\n",
          f"cwtrace refuses {' '.join(args)}: {done.stdout.strip()}")


def cwtrace_env():
    return set(subprocess.run([PROBE, "env"], capture_output=True, text=True).stdout.split())


def check_manifest():
    docs = [d for d in yaml.safe_load_all(open(os.path.join(DEPLOY, "daemonset.yaml"))) if d]
    kinds = {d["kind"]: d for d in docs}
    ds = kinds.get("DaemonSet")
    assert ds, "no DaemonSet in deploy/daemonset.yaml"
    check(ds["apiVersion"] == "apps/v1", "DaemonSet: apiVersion")
    namespace = ds["metadata"].get("namespace")
    ns = kinds.get("Namespace")
    check(ns and ns["metadata"]["name"] == namespace and
          ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
          "Namespace: missing, or not the DaemonSet's, or not Pod Security 'privileged'")
    template = ds["spec"]["template"]
    labels = template["metadata"]["labels"]
    check(ds["spec"]["selector"]["matchLabels"].items() <= labels.items(),
          "DaemonSet: the selector does not select its pods")
    pod = template["spec"]
    check(pod.get("hostPID") is True, "pod: hostPID must be true (owners, /proc, the fd walk)")
    sa = kinds.get("ServiceAccount")
    check(sa and pod.get("serviceAccountName") == sa["metadata"]["name"], "pod: service account")
    (container,) = pod["containers"]
    sc = container["securityContext"]
    check(not sc.get("privileged"), "container: privileged instead of capabilities")
    caps = sc["capabilities"]
    check(caps.get("drop") == ["ALL"], "container: capabilities not dropped first")
    needed = {"BPF", "PERFMON", "SYS_PTRACE", "SYS_ADMIN", "DAC_READ_SEARCH"}
    check(needed <= set(caps.get("add", [])), f"container: lacks {needed - set(caps['add'])}")
    check(sc.get("runAsUser") == 0, "container: added capabilities need uid 0")
    check(sc.get("readOnlyRootFilesystem") is True, "container: root filesystem writable")

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {}
    for m in container["volumeMounts"]:
        host = volumes[m["name"]].get("hostPath", {}).get("path")
        check(m.get("readOnly") is True, f"mount {m['name']}: not read-only")
        mounts[host] = m["mountPath"]
    check("/sys/kernel/btf" in mounts and "/sys/kernel/tracing" in mounts,
          f"container: BTF and tracefs not both mounted from the host: {sorted(mounts)}")

    args = container["args"]
    cli_accepts(args)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    check(set(env) <= cwtrace_env(), f"env: {sorted(set(env) - cwtrace_env())} not read by cwtrace")
    check(env.get("CWTRACE_TRACEFS") == mounts.get("/sys/kernel/tracing"),
          "CWTRACE_TRACEFS is not where the host's tracefs is mounted")
    btf = [a.split("=", 1)[1] for a in args if a.startswith("--btf=")]
    check(btf == [mounts.get("/sys/kernel/btf", "?") + "/vmlinux"],
          f"--btf {btf} is not the mounted BTF")

    addr = [a.split("=", 1)[1] for a in args if a.startswith("--metrics-addr=")]
    check(len(addr) == 1, "args: no --metrics-addr=HOST:PORT")
    port = int(addr[0].rsplit(":", 1)[1]) if addr else None
    check(not addr or not addr[0].startswith(("127.", "[::1]", "localhost")),
          "--metrics-addr on loopback: Prometheus cannot reach the pod")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(ports.get("metrics") == port, f"container port 'metrics' {ports} is not {port}")
    notes = template["metadata"].get("annotations", {})
    check(notes.get("prometheus.io/scrape") == "true" and
          notes.get("prometheus.io/port") == str(port),
          f"pod: scrape annotations {notes}")
    limits = container["resources"].get("limits", {})
    check("memory" in limits, "container: no memory limit")

    policy = kinds.get("NetworkPolicy")
    if policy:
        check(policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items(),
              "NetworkPolicy: does not select cwtrace's pods")
        allowed = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
        check(allowed == ["metrics"], f"NetworkPolicy: ports {allowed}")
    return f"{len(docs)} documents"


def exposed():
    """name -> (type, label names) of each family in the golden exposition."""
    text = open(os.path.join(SOURCE, "tests/golden/metrics.prom")).read()
    types = re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M)
    families = {name: (kind, set()) for name, kind in types}
    for name, labels in re.findall(r"^(\w+)\{([^}]*)\}", text, re.M):
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in families else name
        families[family][1].update(re.findall(r'(\w+)="', labels))
    return families


def check_query(expr, where, families):
    """The metrics and labels `expr` uses exist; returns the metric names."""
    names = set(re.findall(r"\bcwtrace_\w+", expr))
    labels_here = set(TARGET_LABELS)
    for name in names:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name in families:
            labels_here |= families[name][1]
        elif base in families and families[base][0] == "histogram":
            labels_here |= families[base][1] | ({"le"} if name.endswith("_bucket") else set())
        else:
            check(False, f"{where}: {name} is not a metric cwtrace exposes")
    used = set(re.findall(r"\b(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        used |= {label.strip() for label in group.split(",") if label.strip()}
    used |= set(re.findall(r"\$labels\.(\w+)", expr))
    check(used <= labels_here, f"{where}: labels {sorted(used - labels_here)} not exposed")
    return names


def check_metrics():
    families = exposed()
    dashboard = json.load(open(os.path.join(DEPLOY, "grafana-dashboard.json")))
    exprs = [(t["expr"], f"panel '{p['title']}'")
             for p in dashboard["panels"] for t in p["targets"]]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            exprs.append((var["definition"], f"variable {var['name']}"))
    ids = [p["id"] for p in dashboard["panels"]]
    check(len(ids) == len(set(ids)), "dashboard: panel ids repeat")
    used = set()
    for expr, where in exprs:
        used |= check_query(expr, where, families)
    # Each query parses: promtool checks them as recording rules, Grafana's variables filled in.
    rules = [{"record": f"dashboard:query{i}",
              "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*")}
             for i, (expr, _) in enumerate(exprs) if not expr.startswith("label_values(")]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        f.flush()
        done = subprocess.run(["promtool", "check", "rules", f.name],
                              capture_output=True, text=True)
        check(done.returncode == 0, f"dashboard queries: {done.stdout}{done.stderr}")
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in families else n for n in used}
    check(shown == set(families), f"dashboard: shows nothing of {sorted(set(families) - shown)}")

    alerts = yaml.safe_load(open(os.path.join(DEPLOY, "alerts.yml")))
    for group in alerts["groups"]:
        for rule in group["rules"]:
            text = rule["expr"] + " " + " ".join(rule.get("annotations", {}).values())
            names = check_query(rule["expr"], f"alert {rule['alert']}", families)
            check(names, f"alert {rule['alert']}: queries no cwtrace metric")
            for label in re.findall(r"\$labels\.(\w+)", text):
                kept = TARGET_LABELS.union(*(families[n][1] for n in names if n in families))
                for dropped in re.findall(r"without\s*\(([^)]*)\)", rule["expr"]):
                    kept -= {label.strip() for label in dropped.split(",")}
                check(label in kept, f"alert {rule['alert']}: $labels.{label} is not in its result")
    return f"{len(exprs)} dashboard queries, {len(families)} metric families"


def check_image():
    lines = [l.strip() for l in open(os.path.join(DEPLOY, "Dockerfile")) if l.strip()
             and not l.lstrip().startswith("#")]
    instructions = {}
    for line in lines:
        word, _, rest = line.partition(" ")
        instructions.setdefault(word.upper(), []).append(rest)
    check(instructions.get("FROM") == ["scratch"], f"Dockerfile: FROM {instructions.get('FROM')}")
    copies = [shlex.split(c) for c in instructions.get("COPY", [])]
    check(copies == [["dist/cwtrace-${VERSION}-x86_64", "/usr/bin/cwtrace"]],
          f"Dockerfile: COPY {copies}: not scripts/package's static binary")
    entry = json.loads(instructions["ENTRYPOINT"][0])
    check(entry == ["/usr/bin/cwtrace"], f"Dockerfile: ENTRYPOINT {entry}")
    cli_accepts(json.loads(instructions["CMD"][0]))
    built = sorted(glob.glob(os.path.join(SOURCE, "dist/cwtrace-*-x86_64")))
    for binary in built:
        headers = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True).stdout
        dynamic = subprocess.run(["readelf", "-dW", binary], capture_output=True, text=True).stdout
        check("INTERP" not in headers and "(NEEDED)" not in dynamic,
              f"{binary}: dynamic (an interpreter or shared libraries): not for FROM scratch")
    if not built:
        return "no binary in dist/ yet (scripts/package)"
    return f"{len(built)} binaries in dist/"


def main():
    summary = {"manifest": check_manifest, "metrics": check_metrics, "image": check_image}[PART]()
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"{PART}: {summary}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

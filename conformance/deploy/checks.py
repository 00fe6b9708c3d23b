#!/usr/bin/python3
"""Checks of the packaging and deployment files (Dockerfile, deploy/), run by conformance/90-deploy.sh.

Each subcommand prints its findings and exits 0 when there is nothing wrong, 1 when something is
(one "problem: ..." line each), 2 on bad usage. Subcommands:

  dockerfile-check DOCKERFILE HELP_TEXT
      The Dockerfile's shape: a build stage FROM the .NET 10 SDK that runs dotnet publish of
      src/Turn.Server in Release, a final stage FROM mcr.microsoft.com/dotnet/aspnet:10.0 that copies
      the published output from it, a numeric non-root USER, a HEALTHCHECK, an ENTRYPOINT running
      turn-server.dll, EXPOSE of exactly the server's default ports (read from turn-server --help,
      HELP_TEXT) and a comment naming the relay port range with the defaults --help gives.
  dockerfile-build CONTEXT DOCKERFILE ROOT
      Does what a builder would, without one: every stage's WORKDIR, COPY (only what .dockerignore
      lets into the context) and RUN, with the stage's file system rooted at ROOT/STAGE instead of
      /. RUN commands run with bash; the absolute paths the stages use (their WORKDIRs and the
      sources of COPY --from) are rewritten to ROOT/STAGE/... Prints the final stage as JSON
      (root, workdir, env, user, entrypoint, cmd, healthcheck, expose).
  k8s-check RENDERED_YAML
      The objects kubectl kustomize rendered: each has apiVersion, kind and metadata.name; the
      built-in kinds survive a round trip through the Kubernetes API models (python3-kubernetes)
      unchanged, so no field is misspelt, misplaced or of the wrong type; the ServiceMonitor has the
      fields the Prometheus Operator reads; and the DaemonSet is what docs/deploy.md promises.
  k8s-run RENDERED_YAML OUT_DIR NODE_NAME HOST_IP
      Writes what the DaemonSet's container would get on node NODE_NAME: OUT_DIR/args (one
      argument a line, $(VAR) expanded as the kubelet does, volume paths moved under OUT_DIR),
      OUT_DIR/env (NAME=VALUE lines, Secret values as the Secret object has them) and the ConfigMap
      files in their mount folders under OUT_DIR. Prints the admin port the probes use and each
      probe's path.
  trace-check STRACE_LOG WRITABLE_DIR UNIT_FILE
      From an strace -f log of the server: nothing was written, created or removed outside
      WRITABLE_DIR (besides /dev/null and the like), no call failed for a read-only file system,
      every system call made is allowed by UNIT_FILE's SystemCallFilter (expanded with
      systemd-analyze syscall-filter) and every socket family by its RestrictAddressFamilies
      (UNIT_FILE "-": the file system checks only).
  unit-check UNIT_FILE CONF_FILE
      The systemd unit: KillSignal=SIGTERM, TimeoutStopSec above the --drain-timeout of the
      configuration file (default 600), ExecReload sending SIGHUP to the main process,
      Restart=on-failure, the hardening settings docs/deploy.md names.
  metric-names METRICS_TEXT FILE...
      Every metric name used in the PromQL of the rule files and dashboards given is one the
      server exports (METRICS_TEXT: a scrape of /metrics), and every label used in a selector or a
      "by (...)" is one of that metric's labels.
  dashboard-rules DASHBOARD OUT_RULES
      Writes the dashboard's queries, its variables filled in, as recording rules for promtool
      check rules; checks the panels have queries, ids are unique and the variables exist.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

problems = []


def problem(text):
    problems.append(text)


def finish(ok_detail=""):
    for p in problems:
        print("problem: " + p)
    if not problems and ok_detail:
        print(ok_detail)
    sys.exit(1 if problems else 0)


# --- Dockerfile -------------------------------------------------------------------------------

def parse_dockerfile(path):
    """Stages as dicts: base, name, instructions [(KEYWORD, rest)], comments (text of # lines)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    stages = []
    comments = []
    logical = ""
    for raw in lines:
        stripped = raw.strip()
        if not logical and stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        if logical and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not stripped and not logical:
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, rest = logical.strip().partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        logical = ""
        if keyword == "FROM":
            words = rest.split()
            options = [w for w in words if w.startswith("--")]
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"base": words[0], "name": name, "options": options, "instructions": [],
                           "comments": []})
        elif not stages:
            if keyword != "ARG":
                problem(f"{keyword} before the first FROM")
        else:
            stages[-1]["instructions"].append((keyword, rest))
        if stages:
            stages[-1]["comments"].extend(comments)
        comments = []
    return stages


def exec_form(rest):
    """JSON array form of ENTRYPOINT/CMD/RUN, or None for the shell form."""
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return None


def split_options(rest):
    """COPY/ADD/HEALTHCHECK options (--x=y) and the remaining words."""
    words = shlex.split(rest)
    options = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        options[key] = value
    return options, words


def default_ports(help_text):
    """The server's default ports from turn-server --help."""
    text = open(help_text, encoding="utf-8").read()
    found = {}
    for key, pattern in (("listening", r"--listening-port PORT\s+.*?\(default (\d+)"),
                         ("tls", r"--tls-listening-port PORT\s+.*?\(default (\d+)"),
                         ("admin", r"--admin-listen ADDRESS:PORT\s+.*?\(default [\d.]+:(\d+)\)"),
                         ("min", r"--min-port PORT\s+.*?\(default (\d+)\)"),
                         ("max", r"--max-port PORT\s+.*?\(default (\d+)\)")):
        m = re.search(pattern, text)
        if m:
            found[key] = int(m.group(1))
        else:
            problem(f"turn-server --help does not give the default of {key} (pattern {pattern})")
    # DTLS defaults to the TLS port (--dtls-listening-port): said in the help text too.
    if not re.search(r"--dtls-listening-port PORT\s+.*default: the TLS port", text):
        problem("turn-server --help does not say DTLS defaults to the TLS port")
    return found


def dockerfile_check(dockerfile, help_text):
    stages = parse_dockerfile(dockerfile)
    ports = default_ports(help_text)
    if len(stages) < 2:
        problem(f"{len(stages)} stage(s); want a build stage and a runtime stage")
        finish()
    build = next((s for s in stages if s["base"].startswith("mcr.microsoft.com/dotnet/sdk:10.0")), None)
    final = stages[-1]
    if build is None:
        problem("no stage FROM mcr.microsoft.com/dotnet/sdk:10.0")
    elif not build["name"]:
        problem("the SDK stage has no name (FROM ... AS build)")
    else:
        runs = [rest for k, rest in build["instructions"] if k == "RUN"]
        publish = [r for r in runs if re.search(r"\bdotnet publish\b", r)]
        if not publish:
            problem("the SDK stage runs no dotnet publish")
        else:
            words = shlex.split(publish[-1])
            if "src/Turn.Server" not in words and "src/Turn.Server/Turn.Server.csproj" not in words:
                problem(f"dotnet publish is not of src/Turn.Server: {publish[-1]}")
            if not re.search(r"(^|\s)(-c|--configuration)[ =]Release(\s|$)", publish[-1]):
                problem(f"dotnet publish is not in Release: {publish[-1]}")
            if not re.search(r"(^|\s)(-o|--output)[ =]/\S+", publish[-1]):
                problem(f"dotnet publish has no absolute -o folder: {publish[-1]}")
    if final["base"] != "mcr.microsoft.com/dotnet/aspnet:10.0":
        problem(f"the final stage is FROM {final['base']}, want mcr.microsoft.com/dotnet/aspnet:10.0")
    if build is not None and build is final:
        problem("the final stage is the SDK stage")
    copies = [split_options(rest) for k, rest in final["instructions"] if k == "COPY"]
    if build is not None and not any(o.get("from") == build["name"] for o, _ in copies):
        problem(f"the final stage copies nothing from the {build['name']} stage")
    for k, rest in final["instructions"]:
        if k in ("ADD",):
            problem("ADD in the final stage (COPY says what it does)")
        if k == "RUN" and re.search(r"\b(apt-get|apt|curl|wget)\b", rest):
            problem(f"the final stage installs or downloads: RUN {rest}")
    users = [rest for k, rest in final["instructions"] if k == "USER"]
    if not users:
        problem("no USER in the final stage: it would run as root")
    else:
        user = users[-1].split(":")[0]
        if not user.isdigit():
            problem(f"USER {users[-1]} is not numeric (Kubernetes runAsNonRoot cannot verify a name)")
        elif int(user) == 0:
            problem("USER is root")
    health = [rest for k, rest in final["instructions"] if k == "HEALTHCHECK"]
    if not health:
        problem("no HEALTHCHECK")
    elif health[-1].strip().upper() == "NONE":
        problem("HEALTHCHECK NONE")
    else:
        options, words = split_options(health[-1])
        if not words or words[0].upper() != "CMD":
            problem(f"HEALTHCHECK without CMD: {health[-1]}")
        for key in ("interval", "timeout"):
            if key not in options:
                problem(f"HEALTHCHECK has no --{key}")
    entry = [rest for k, rest in final["instructions"] if k == "ENTRYPOINT"]
    if not entry:
        problem("no ENTRYPOINT")
    else:
        form = exec_form(entry[-1])
        if form is None:
            problem(f"ENTRYPOINT is not in exec form (signals would go to a shell): {entry[-1]}")
        elif not (form[:2] == ["dotnet", "turn-server.dll"] or form[0].endswith("/turn-server")):
            problem(f"ENTRYPOINT does not run turn-server: {form}")
    stop = [rest for k, rest in final["instructions"] if k == "STOPSIGNAL"]
    if stop and stop[-1] not in ("SIGTERM", "15"):
        problem(f"STOPSIGNAL {stop[-1]}: the drain starts on SIGTERM")
    exposed = set()
    for k, rest in final["instructions"]:
        if k == "EXPOSE":
            for word in rest.split():
                port, _, proto = word.partition("/")
                exposed.add((int(port), proto or "tcp"))
    if ports:
        want = {(ports["listening"], "udp"), (ports["listening"], "tcp"), (ports["tls"], "tcp"),
                (ports["tls"], "udp"), (ports["admin"], "tcp")}
        if exposed != want:
            problem(f"EXPOSE {sorted(exposed)}, want the server's defaults {sorted(want)}")
        comments = " ".join(final["comments"])
        if not ("--min-port" in comments and "--max-port" in comments
                and f"{ports['min']}-{ports['max']}" in comments):
            problem(f"no comment in the final stage naming the relay range --min-port/--max-port "
                    f"({ports['min']}-{ports['max']})")
    finish(f"stages {[s['name'] or s['base'] for s in stages]}, USER {users[-1] if users else '-'}, "
           f"EXPOSE {' '.join(f'{p}/{t}' for p, t in sorted(exposed))}")


# The environment the ASP.NET Core runtime image sets (its Dockerfile's ENV lines): the server must
# behave with it, e.g. not open the ASP.NET Core default port 8080 for its admin listener.
ASPNET_IMAGE_ENV = {
    "APP_UID": "1654",
    "ASPNETCORE_HTTP_PORTS": "8080",
    "DOTNET_RUNNING_IN_CONTAINER": "true",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}


def dockerignore_patterns(context):
    path = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("!"):
                problem(f".dockerignore exception '{line}' is not handled by this check")
                continue
            patterns.append(line.strip("/"))
    return patterns


def ignored(relative, patterns):
    import fnmatch
    parts = relative.split("/")
    for pattern in patterns:
        pparts = pattern.split("/")
        anywhere = pparts[0] == "**"
        if anywhere:
            pparts = pparts[1:]
        starts = range(len(parts)) if anywhere else [0]
        for start in starts:
            segment = parts[start:start + len(pparts)]
            if len(segment) == len(pparts) and all(fnmatch.fnmatchcase(s, p) for s, p in zip(segment, pparts)):
                return True
    return False


def context_copy(context, patterns, source, destination):
    """COPY SOURCE DESTINATION from the build context, leaving out what .dockerignore excludes."""
    src = os.path.normpath(os.path.join(context, source))
    relative_root = os.path.relpath(src, context)
    if relative_root.startswith(".."):
        problem(f"COPY {source} reaches outside the context")
        return
    if not os.path.exists(src) or (relative_root != "." and ignored(relative_root, patterns)):
        problem(f"COPY {source}: not in the build context (missing or excluded by .dockerignore)")
        return
    if os.path.isfile(src):
        target = os.path.join(destination, os.path.basename(src)) if destination.endswith("/") else destination
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)
        return
    for folder, dirs, files in os.walk(src):
        rel_folder = os.path.relpath(folder, context)
        dirs[:] = [d for d in dirs if not ignored(os.path.normpath(os.path.join(rel_folder, d)), patterns)]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_folder, name))
            if ignored(rel, patterns):
                continue
            target = os.path.join(destination, os.path.relpath(os.path.join(folder, name), src))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(folder, name), target)


def dockerfile_build(context, dockerfile, root):
    stages = parse_dockerfile(dockerfile)
    patterns = dockerignore_patterns(context)
    # The container paths the stages use, rewritten in RUN commands (see the module's text).
    roots = set()
    for stage in stages:
        for k, rest in stage["instructions"]:
            if k == "WORKDIR":
                roots.add(rest.strip().split("/")[1])
            if k == "COPY":
                options, words = split_options(rest)
                if "from" in options:
                    for w in words[:-1]:
                        if w.startswith("/"):
                            roots.add(w.split("/")[1])
    stage_roots = {}
    final = None
    for index, stage in enumerate(stages):
        label = stage["name"] or str(index)
        fs = os.path.join(root, label)
        os.makedirs(fs, exist_ok=True)
        stage_roots[label] = fs
        workdir = "/"
        env = dict(ASPNET_IMAGE_ENV) if stage["base"].startswith("mcr.microsoft.com/dotnet/aspnet") else {}
        info = {"root": fs, "base": stage["base"], "env": env, "user": None, "entrypoint": None, "cmd": None,
                "healthcheck": None, "expose": [], "workdir": "/"}

        def host(path):
            return os.path.join(fs, os.path.normpath(os.path.join(workdir, path)).lstrip("/"))

        for k, rest in stage["instructions"]:
            if k == "WORKDIR":
                workdir = os.path.normpath(os.path.join(workdir, rest.strip()))
                os.makedirs(host("."), exist_ok=True)
            elif k == "ENV":
                for word in shlex.split(rest):
                    name, _, value = word.partition("=")
                    env[name] = value
            elif k == "COPY":
                options, words = split_options(rest)
                destination = words[-1]
                target = host(destination) + ("/" if destination.endswith("/") or destination in (".", "./") else "")
                for source in words[:-1]:
                    if "from" in options:
                        other = stage_roots.get(options["from"])
                        if other is None:
                            problem(f"COPY --from={options['from']}: no such stage before it")
                            continue
                        src = os.path.join(other, source.lstrip("/"))
                        if not os.path.exists(src):
                            problem(f"COPY --from={options['from']} {source}: the stage has no such path")
                            continue
                        if os.path.isdir(src):
                            shutil.copytree(src, target, dirs_exist_ok=True)
                        else:
                            os.makedirs(os.path.dirname(target.rstrip("/")) or ".", exist_ok=True)
                            shutil.copy2(src, target)
                    else:
                        context_copy(context, patterns, source, target)
                    if "chmod" in options and not target.endswith("/"):
                        os.chmod(target, int(options["chmod"], 8))
            elif k == "RUN":
                command = rest
                if exec_form(rest) is not None:
                    command = shlex.join(exec_form(rest))
                for top in sorted(roots):
                    command = re.sub(rf"(?<![\w./-])/{re.escape(top)}(?=/|\s|$)", os.path.join(fs, top), command)
                print(f"# RUN {command}", file=sys.stderr, flush=True)
                run_env = dict(os.environ)
                run_env.update(env)
                status = subprocess.run(["bash", "-c", command], cwd=host("."), env=run_env,
                                        stdout=sys.stderr, stderr=sys.stderr).returncode
                if status != 0:
                    problem(f"RUN {rest} exited with {status}")
                    finish()
            elif k == "USER":
                info["user"] = rest.strip()
            elif k == "ENTRYPOINT":
                info["entrypoint"] = exec_form(rest)
            elif k == "CMD":
                info["cmd"] = exec_form(rest)
            elif k == "HEALTHCHECK":
                _, words = split_options(rest)
                info["healthcheck"] = exec_form(rest[rest.upper().index("CMD") + 3:]) if words else None
            elif k == "EXPOSE":
                info["expose"] += rest.split()
        info["workdir"] = workdir
        info["workdir_host"] = host(".")
        final = info
    if final is not None and final["healthcheck"]:
        command = final["healthcheck"][0]
        final["healthcheck_host"] = os.path.join(final["root"], command.lstrip("/"))
    if problems:
        finish()
    print(json.dumps(final, indent=1))
    sys.exit(0)


# --- Kubernetes -------------------------------------------------------------------------------

def load_documents(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


MODEL_FOR = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
}


def differences(want, got, path=""):
    """Paths where the round-tripped object differs from the original."""
    out = []
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key not in got:
                out.append(f"{path}.{key} (unknown field, or a value of the wrong type)")
            else:
                out += differences(want[key], got[key], f"{path}.{key}")
        for key in got:
            if key not in want:
                out.append(f"{path}.{key} (appeared)")
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            out.append(f"{path} (list length {len(want)} became {len(got)})")
        for i, (a, b) in enumerate(zip(want, got)):
            out += differences(a, b, f"{path}[{i}]")
    elif want != got and not (str(want) == str(got)):
        out.append(f"{path} ({want!r} became {got!r})")
    return out


def round_trip(doc, model):
    from kubernetes.client import ApiClient

    class Response:  # what ApiClient.deserialize reads
        def __init__(self, data):
            self.data = json.dumps(data)

    client = ApiClient()
    try:
        obj = client.deserialize(Response(doc), model)
    except (ValueError, TypeError) as e:
        return [f"rejected by the {model} model: {e}"]
    return differences(doc, client.sanitize_for_serialization(obj))


def container_of(daemonset):
    containers = daemonset["spec"]["template"]["spec"].get("containers", [])
    return next((c for c in containers if c.get("name") == "turn-server"), containers[0] if containers else {})


def arg_value(args, flag):
    """The value of --flag=V or --flag V in args (the last one), or None."""
    value = None
    for i, a in enumerate(args):
        if a.startswith(f"--{flag}="):
            value = a.split("=", 1)[1]
        elif a == f"--{flag}" and i + 1 < len(args):
            value = args[i + 1]
    return value


def k8s_check(rendered):
    docs = load_documents(rendered)
    kinds = {}
    for doc in docs:
        name = (doc.get("metadata") or {}).get("name")
        if not doc.get("apiVersion") or not doc.get("kind") or not name:
            problem(f"an object without apiVersion, kind or metadata.name: {str(doc)[:80]}")
            continue
        kinds.setdefault(doc["kind"], []).append(doc)
        model = MODEL_FOR.get((doc["apiVersion"], doc["kind"]))
        if model:
            for d in round_trip(doc, model):
                problem(f"{doc['kind']}/{name}: {d}")
        elif doc["kind"] != "ServiceMonitor":
            problem(f"{doc['apiVersion']} {doc['kind']}/{name}: a kind this check does not know")
    for kind in ("Namespace", "Secret", "ConfigMap", "DaemonSet", "Service", "PodDisruptionBudget", "ServiceMonitor"):
        if kind not in kinds:
            problem(f"no {kind}")
    if problems:
        finish()
    ds = kinds["DaemonSet"][0]
    pod = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"].get("labels", {})
    c = container_of(ds)
    args = c.get("args", [])
    env = {e["name"]: e for e in c.get("env", [])}
    if pod.get("hostNetwork") is not True:
        problem("DaemonSet: no hostNetwork: true")
    if pod.get("dnsPolicy") != "ClusterFirstWithHostNet":
        problem("DaemonSet: hostNetwork without dnsPolicy ClusterFirstWithHostNet")
    strategy = ds["spec"].get("updateStrategy", {}).get("rollingUpdate", {})
    if strategy.get("maxSurge") not in (None, 0, "0", "0%"):
        problem("DaemonSet: maxSurge would start a second pod on the node's ports")
    # Drain and grace period.
    drain = int(arg_value(args, "drain-timeout") or 600)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if not drain < grace <= drain + 120:
        problem(f"terminationGracePeriodSeconds {grace}: want a little more than --drain-timeout {drain}")
    if c.get("lifecycle", {}).get("preStop"):
        problem("a preStop hook: SIGTERM itself starts the drain")
    # External IP: the node's internal address from the downward API, the public one per node.
    host_ip = env.get("HOST_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    if host_ip != "status.hostIP":
        problem("no HOST_IP from status.hostIP")
    if arg_value(args, "relay-ip") != "$(HOST_IP)":
        problem("--relay-ip is not $(HOST_IP)")
    # Secret.
    secret_env = env.get("TURN__STATICAUTHSECRETS__0", {}).get("valueFrom", {}).get("secretKeyRef", {})
    secrets = {s["metadata"]["name"]: s for s in kinds["Secret"]}
    if not secret_env:
        problem("TURN__STATICAUTHSECRETS__0 does not come from a Secret")
    elif secret_env.get("name") not in secrets:
        problem(f"TURN__STATICAUTHSECRETS__0 names Secret {secret_env.get('name')}, which the manifests lack")
    else:
        s = secrets[secret_env["name"]]
        if secret_env.get("key") not in {**s.get("stringData", {}), **s.get("data", {})}:
            problem(f"Secret {secret_env['name']} has no key {secret_env.get('key')}")
    if "--use-auth-secret" not in args:
        problem("no --use-auth-secret")
    for a in args:
        if a.startswith("--static-auth-secret"):
            problem("a secret on the command line (visible in the pod spec and ps)")
    # Admin listener, probes.
    admin = env.get("TURN__ADMINLISTEN", {}).get("value") or arg_value(args, "admin-listen")
    if not admin or not admin.startswith("$(HOST_IP):"):
        problem(f"the admin listener ({admin}) is not on the node's internal address $(HOST_IP)")
        admin_port = None
    else:
        admin_port = int(admin.rsplit(":", 1)[1])
    ports = {p.get("name"): p for p in c.get("ports", [])}
    for name, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        probe = c.get(name, {}).get("httpGet", {})
        port = probe.get("port")
        port = ports.get(port, {}).get("containerPort") if isinstance(port, str) else port
        if probe.get("path") != path:
            problem(f"{name} path {probe.get('path')}, want {path}")
        if port != admin_port:
            problem(f"{name} port {probe.get('port')} is not the admin port {admin_port}")
    # Security.
    pod_sc = pod.get("securityContext", {})
    sc = c.get("securityContext", {})
    if not (pod_sc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
        problem("no runAsNonRoot")
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if not isinstance(uid, int) or uid == 0:
        problem(f"runAsUser {uid}")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem("no readOnlyRootFilesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        problem("allowPrivilegeEscalation is not false")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problem("capabilities are not dropped (drop: [ALL])")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    if "/tmp" not in mounts:
        problem("no writable /tmp for a read-only root file system")
    resources = c.get("resources", {})
    for part in ("requests", "limits"):
        for what in ("cpu", "memory"):
            if what not in resources.get(part, {}):
                problem(f"no resources.{part}.{what}")
    # Selectors: the Service, PDB and ServiceMonitor find the pods; the monitor finds the Service port.
    def selects(selector):
        return selector and all(labels.get(k) == v for k, v in selector.items())
    if not selects(ds["spec"]["selector"].get("matchLabels")):
        problem("the DaemonSet's selector does not match its pods")
    svc = kinds["Service"][0]
    if not selects(svc["spec"].get("selector")):
        problem("the Service does not select the pods")
    svc_ports = {p.get("name"): p for p in svc["spec"].get("ports", [])}
    pdb = kinds["PodDisruptionBudget"][0]
    if not selects(pdb["spec"].get("selector", {}).get("matchLabels")):
        problem("the PodDisruptionBudget does not select the pods")
    sm = kinds["ServiceMonitor"][0]
    if sm["apiVersion"] != "monitoring.coreos.com/v1":
        problem(f"ServiceMonitor apiVersion {sm['apiVersion']}")
    sm_spec = sm.get("spec", {})
    known = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels",
             "sampleLimit", "labelLimit"}
    for key in sm_spec:
        if key not in known:
            problem(f"ServiceMonitor spec.{key}: not a field of the Prometheus Operator's ServiceMonitor")
    if sm_spec.get("selector", {}).get("matchLabels", {}).items() - svc["metadata"].get("labels", {}).items():
        problem("the ServiceMonitor does not select the Service")
    for ep in sm_spec.get("endpoints", []):
        for key in ep:
            if key not in {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings",
                           "metricRelabelings", "targetPort"}:
                problem(f"ServiceMonitor endpoint field {key}: not one this check knows")
        if ep.get("port") not in svc_ports:
            problem(f"ServiceMonitor endpoint port {ep.get('port')} is not a port name of the Service")
        elif svc_ports[ep["port"]].get("port") != admin_port:
            problem("the Service's metrics port is not the admin port")
        if ep.get("path", "/metrics") != "/metrics":
            problem(f"ServiceMonitor path {ep.get('path')}")
    if not sm_spec.get("endpoints"):
        problem("ServiceMonitor has no endpoints")
    finish(f"{len(docs)} objects: {', '.join(sorted(kinds))}")


def expand(value, env):
    """$(VAR) as the kubelet expands it in args and env values; $$(VAR) stays literal."""
    return re.sub(r"\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$(" if m.group(0) == "$$(" else env.get(m.group(1), m.group(0)), value)


def k8s_run(rendered, out_dir, node_name, host_ip):
    import base64
    docs = load_documents(rendered)
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    pod = ds["spec"]["template"]["spec"]
    c = container_of(ds)
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = expand(e["value"], env)
            continue
        source = e.get("valueFrom", {})
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            known = {"status.hostIP": host_ip, "spec.nodeName": node_name}
            if path not in known:
                problem(f"env {e['name']}: fieldRef {path} not emulated")
                continue
            env[e["name"]] = known[path]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = objects.get(("Secret", ref["name"]))
            data = {**{k: base64.b64decode(v).decode() for k, v in (secret or {}).get("data", {}).items()},
                    **(secret or {}).get("stringData", {})}
            if ref["key"] in data:
                env[e["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                problem(f"env {e['name']}: Secret {ref['name']} has no key {ref['key']}")
        else:
            problem(f"env {e['name']}: source {source} not emulated")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    moved = {}
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"], {})
        target = os.path.join(out_dir, m["mountPath"].lstrip("/"))
        os.makedirs(target, exist_ok=True)
        moved[m["mountPath"]] = target
        if "configMap" in v:
            cm = objects.get(("ConfigMap", v["configMap"]["name"]))
            if cm is None:
                problem(f"volume {m['name']}: ConfigMap {v['configMap']['name']} is not in the manifests")
                continue
            for key, text in cm.get("data", {}).items():
                with open(os.path.join(target, key), "w", encoding="utf-8") as f:
                    f.write(text)
    args = []
    for a in c.get("args", []):
        a = expand(a, env)
        for mount, target in sorted(moved.items(), key=lambda kv: -len(kv[0])):
            moved_arg = re.sub(rf"(^|=){re.escape(mount)}(?=/|$)", lambda mm: mm.group(1) + target, a)
            if moved_arg != a:
                a = moved_arg
                break
        args.append(a)
    with open(os.path.join(out_dir, "args"), "w", encoding="utf-8") as f:
        f.write("".join(a + "\n" for a in args))
    with open(os.path.join(out_dir, "env"), "w", encoding="utf-8") as f:
        f.write("".join(f"{k}={v}\n" for k, v in env.items()))
    admin = env.get("TURN__ADMINLISTEN") or arg_value(args, "admin-listen") or ""
    print("admin", admin.rsplit(":", 1)[-1])
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for name in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = c.get(name, {}).get("httpGet")
        if probe:
            port = ports.get(probe["port"], probe["port"])
            print("probe", name, port, probe["path"])
    finish()


# --- strace and the systemd unit --------------------------------------------------------------

def unit_settings(unit_file):
    settings = {}
    section = None
    for line in open(unit_file, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def syscall_set(names):
    """Expands systemd syscall groups (@name) into system call names."""
    out = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        text = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                              check=True).stdout
        members = [l.strip() for l in text.splitlines()[1:] if l.strip() and not l.strip().startswith("#")]
        out |= syscall_set(members)
    return out


def trace_check(log, writable, unit_file):
    writable = os.path.realpath(writable)
    calls = set()
    families = set()
    erofs = []
    writes = []
    harmless = ("/dev/null", "/dev/tty", "/dev/urandom", "/dev/random", "/dev/shm/", "/proc/", "/sys/")
    line_re = re.compile(r"^(?:\d+\s+)?(?:\[pid\s+\d+\]\s+)?([a-z0-9_]+)\((.*)")
    for line in open(log, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if "<unfinished ...>" in line and "resumed>" not in line:
            pass
        m = line_re.match(line)
        if not m:
            m2 = re.match(r"^(?:\d+\s+)?<\.\.\. ([a-z0-9_]+) resumed>(.*)", line)
            if m2:
                calls.add(m2.group(1))
                if "EROFS" in line:
                    erofs.append(line)
            continue
        name, rest = m.group(1), m.group(2)
        calls.add(name)
        if "EROFS" in line:
            erofs.append(line)
        if name == "socket":
            fam = rest.split(",", 1)[0].strip()
            families.add(fam)
        paths = re.findall(r'"([^"]*)"', rest)
        failed = re.search(r"= -1 E[A-Z]+", line) is not None
        if failed:
            continue
        if name in ("open", "openat", "openat2", "creat"):
            flags = rest
            if name == "creat" or re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", flags):
                writes += [(name, p) for p in paths if p]
        elif name in ("mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir",
                      "link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat", "chown",
                      "fchownat", "utimensat", "mknod", "mknodat"):
            writes += [(name, p) for p in paths if p]
        elif name == "bind" and "AF_UNIX" in rest:
            writes += [(name, p) for p in re.findall(r'sun_path="([^"]*)"', rest) if p.startswith("/")]
    outside = sorted({f"{n} {p}" for n, p in writes
                      if p.startswith("/") and not os.path.realpath(p).startswith(writable + "/")
                      and os.path.realpath(p) != writable and not p.startswith(harmless)})
    relative = sorted({f"{n} {p}" for n, p in writes if not p.startswith("/")})
    for w in outside + relative:
        problem(f"wrote outside {writable}: {w}")
    for line in erofs[:10]:
        problem(f"read-only file system: {line[:200]}")
    if not calls:
        problem("the trace has no system calls")
    if unit_file == "-":
        finish(f"{len(writes)} writes, all under {writable} or /dev; no read-only file system errors")
    settings = unit_settings(unit_file)
    allowed, denied = set(), set()
    for value in settings.get(("Service", "SystemCallFilter"), []):
        if value.startswith("~"):
            denied |= syscall_set(value[1:].split())
        else:
            allowed |= syscall_set(value.split())
    used = calls - {"exit_group", "exit", "restart_syscall", "rt_sigreturn"}  # always allowed by systemd
    if allowed:
        missing = sorted(used - allowed)
        if missing:
            problem(f"system calls the unit's SystemCallFilter refuses: {' '.join(missing)}")
    if denied & used:
        problem(f"system calls the unit denies: {' '.join(sorted(denied & used))}")
    fam_allowed = set()
    for value in settings.get(("Service", "RestrictAddressFamilies"), []):
        fam_allowed |= set(value.split())
    if fam_allowed and families - fam_allowed:
        problem(f"socket families outside RestrictAddressFamilies: {' '.join(sorted(families - fam_allowed))}")
    finish(f"{len(calls)} distinct system calls, all allowed; families {' '.join(sorted(families))}; "
           f"{len(writes)} writes, all under {writable} or /dev")


def unit_check(unit_file, conf_file):
    settings = unit_settings(unit_file)

    def one(key):
        values = settings.get(("Service", key))
        return values[-1] if values else None
    drain = 600
    for line in open(conf_file, encoding="utf-8"):
        m = re.match(r"\s*(?:--)?drain-timeout\s*[= ]\s*(\d+)", line)
        if m:
            drain = int(m.group(1))
    if one("KillSignal") not in ("SIGTERM", "TERM", "15"):
        problem(f"KillSignal={one('KillSignal')}, want SIGTERM (it starts the drain)")
    stop = one("TimeoutStopSec") or ""
    m = re.fullmatch(r"(\d+)(s|sec|min|m)?", stop)
    seconds = int(m.group(1)) * (60 if m and m.group(2) in ("min", "m") else 1) if m else None
    if seconds is None or not drain < seconds <= drain + 120:
        problem(f"TimeoutStopSec={stop}: want a little more than the drain timeout {drain}")
    reload = one("ExecReload") or ""
    if not re.fullmatch(r"\S*kill -(HUP|SIGHUP|1) \$MAINPID", reload):
        problem(f"ExecReload={reload}: want kill -HUP $MAINPID (the server reloads its settings on SIGHUP)")
    if one("KillMode") not in ("mixed", "control-group", None):
        problem(f"KillMode={one('KillMode')}")
    if one("Restart") not in ("on-failure", "on-abnormal"):
        problem(f"Restart={one('Restart')}: a drained server (exit 0) must stay stopped")
    want = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
            "ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
            "LockPersonality": "yes", "CapabilityBoundingSet": ""}
    for key, value in want.items():
        if one(key) != value:
            problem(f"{key}={one(key)}, want {value!r}")
    if one("DynamicUser") != "yes" and not one("User"):
        problem("neither DynamicUser=yes nor a User=")
    if not one("SystemCallFilter") or not one("RestrictAddressFamilies"):
        problem("no SystemCallFilter or RestrictAddressFamilies")
    if ("Service", "EnvironmentFile") not in settings:
        problem("no EnvironmentFile (the REST API secret belongs there, not on the command line)")
    exec_start = one("ExecStart") or ""
    if "static-auth-secret" in exec_start:
        problem("a secret on the command line")
    finish(f"TimeoutStopSec {seconds} s against a drain of {drain} s")


# --- metrics, rules, dashboard ----------------------------------------------------------------

def exported_metrics(metrics_text):
    names = {}
    for line in open(metrics_text, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?", line)
        if m:
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            names.setdefault(m.group(1), set()).update(labels)
    return names


PROMQL_WORDS = {"sum", "by", "rate", "irate", "increase", "and", "or", "unless", "offset", "absent", "clamp_min",
                "max", "min", "avg", "count", "without", "on", "ignoring", "group_left", "group_right", "topk",
                "histogram_quantile", "label_values", "bool", "time", "vector", "scalar", "delta", "deriv"}
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
TARGET_LABELS = {"job", "instance"}


def expressions_in(path):
    if path.endswith(".json"):
        dash = json.load(open(path, encoding="utf-8"))
        out = []

        def walk(panels):
            for p in panels:
                for t in p.get("targets", []):
                    out.append(t.get("expr", ""))
                walk(p.get("panels", []))
        walk(dash.get("panels", []))
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            if isinstance(q, dict):
                q = q.get("query")
            if v.get("type") == "query" and isinstance(q, str):
                m = re.match(r"label_values\((.*),\s*\w+\)$", q)
                out.append(m.group(1) if m else q)
        return out
    import yaml
    data = yaml.safe_load(open(path, encoding="utf-8"))
    return [r["expr"] for g in data.get("groups", []) for r in g.get("rules", [])]


def metric_names(metrics_text, files):
    exported = exported_metrics(metrics_text)
    used = 0
    for path in files:
        for expr in expressions_in(path):
            text = re.sub(r'"[^"]*"', '""', expr)       # no names inside strings
            text = re.sub(r"\[[^\]]*\]", "", text)      # ranges
            text = re.sub(r"\$__\w+|\$\w+", "", text)   # dashboard variables
            groups = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text)
            text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", text)
            for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?|\{[^}]*\}", text):
                name, braces = m.group(1), m.group(2)
                if name is None or name in PROMQL_WORDS or name in SCRAPE_SERIES:
                    continue
                if name not in exported:
                    problem(f"{os.path.basename(path)}: {name} is not exported by the server")
                    continue
                used += 1
                for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", braces or ""):
                    if label not in exported[name] | TARGET_LABELS:
                        problem(f"{os.path.basename(path)}: {name} has no label {label}")
            for group in groups:
                for label in [l.strip() for l in group.split(",") if l.strip()]:
                    if label not in TARGET_LABELS and not any(label in ls for ls in exported.values()):
                        problem(f"{os.path.basename(path)}: no exported metric has a label {label}")
    finish(f"{used} metric references, all exported by the server with the labels used")


def dashboard_rules(dashboard, out_rules):
    dash = json.load(open(dashboard, encoding="utf-8"))
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    ids = []
    rules = []

    def walk(panels):
        for p in panels:
            ids.append(p.get("id"))
            if p.get("type") != "row":
                if not p.get("targets"):
                    problem(f"panel '{p.get('title')}' has no query")
                if "gridPos" not in p:
                    problem(f"panel '{p.get('title')}' has no gridPos")
            for t in p.get("targets", []):
                expr = t.get("expr", "")
                for var in re.findall(r"\$(\w+)", expr):
                    if not var.startswith("__") and var not in variables:
                        problem(f"panel '{p.get('title')}' uses ${var}, which is no variable of the dashboard")
                filled = (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
                          .replace("$job", "turn-server").replace("$instance", ".*"))
                rules.append({"record": f"dashboard:panel_{p.get('id')}_{t.get('refId')}", "expr": filled})
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    if len(ids) != len(set(ids)):
        problem("panel ids are not unique")
    if not rules:
        problem("the dashboard has no queries")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query")
            m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
            if m:
                rules.append({"record": f"dashboard:variable_{v['name']}",
                              "expr": m.group(1).replace("$job", "turn-server")})
    import yaml
    with open(out_rules, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
    finish(f"{len(rules)} queries in {len(ids)} panels")


def main(argv):
    commands = {
        "dockerfile-check": (dockerfile_check, 2), "dockerfile-build": (dockerfile_build, 3),
        "k8s-check": (k8s_check, 1), "k8s-run": (k8s_run, 4), "trace-check": (trace_check, 3),
        "unit-check": (unit_check, 2), "dashboard-rules": (dashboard_rules, 2),
    }
    if len(argv) >= 2 and argv[1] == "metric-names" and len(argv) >= 4:
        metric_names(argv[2], argv[3:])
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)

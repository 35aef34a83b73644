#!/usr/bin/env bash
# Checks the deployment files without a container engine:
#   - Prometheus: `promtool check config`, `promtool check rules`, `promtool test rules`
#     (installs Debian's prometheus package, which ships promtool, when promtool is missing);
#   - every JSON and YAML file under deploy/ parses (PyYAML, or Debian's python3-yaml);
#   - the compose stack, the Dockerfile and the executable agree (verbs `migrate`/`serve`, ports,
#     start order, health endpoint), the dashboard's data sources are provisioned, the scrape
#     target is the compose service, every alert is labelled, annotated and unit-tested, and
#     .env.example defines every variable compose requires, with placeholders only.
# Ends with one line "deploy: N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail
deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$deploy/.." && pwd)
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

# report: reads the python checks' lines "ok NAME" / "FAIL NAME: why" (anything else is shown as is).
report() {
  local line
  while IFS= read -r line; do
    case $line in
      "ok "*) pass "${line#ok }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      *) echo "       $line" ;;
    esac
  done
}

# check NAME COMMAND...: runs COMMAND, shows its output only when it fails.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$name"
  else
    fail "$name"
    sed 's/^/       /' <<<"$out"
  fi
}

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "deploy/test.sh: cannot install $* (needs root and apt-get)" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---- tools ------------------------------------------------------------------------------------
if ! command -v promtool >/dev/null; then
  echo "deploy/test.sh: promtool not found; installing Debian's prometheus package" >&2
  apt_install prometheus || true
fi
if command -v promtool >/dev/null; then
  pass "promtool is available ($(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
  have_promtool=1
else
  fail "promtool is available"
  have_promtool=0
fi

yaml_python() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  return 1
}
py=$(yaml_python)
if [ -z "$py" ]; then
  echo "deploy/test.sh: PyYAML not found; installing Debian's python3-yaml package" >&2
  apt_install python3-yaml || true
  py=$(yaml_python)
fi
if [ -n "$py" ]; then
  pass "python3 with PyYAML is available ($py)"
else
  fail "python3 with PyYAML is available"
fi

# ---- Prometheus -------------------------------------------------------------------------------
if [ "$have_promtool" = 1 ]; then
  # check config also loads rule_files, resolved relative to prometheus.yml
  check "promtool check config prometheus/prometheus.yml" promtool check config "$deploy/prometheus/prometheus.yml"
  check "promtool check rules prometheus/alerts.yml" promtool check rules "$deploy/prometheus/alerts.yml"
  check "promtool test rules prometheus/alerts.test.yml" promtool test rules "$deploy/prometheus/alerts.test.yml"
else
  fail "promtool check config / check rules / test rules (no promtool)"
fi

# ---- shell scripts ------------------------------------------------------------------------------
while IFS= read -r script; do
  check "bash -n ${script#"$deploy"/}" bash -n "$script"
done < <(find "$deploy" -name '*.sh' -type f | sort)

# ---- files parse, and the pieces agree ---------------------------------------------------------
if [ -n "$py" ]; then
  report < <("$py" - "$deploy" "$repo" <<'PY' 2>&1
import glob, json, os, re, sys
import yaml

deploy, repo = sys.argv[1], sys.argv[2]
rel = lambda p: os.path.relpath(p, deploy)

def result(name, ok, why=""):
    print(("ok " if ok else "FAIL ") + name + ("" if ok or not why else f": {why}"))

def check(name, fn):
    try:
        why = fn()
        result(name, not why, why or "")
    except Exception as e:  # a check that cannot even run is a failed check
        result(name, False, f"{type(e).__name__}: {e}")

files = sorted(p for p in glob.glob(os.path.join(deploy, "**", "*"), recursive=True)
               if os.path.isfile(p) and "/secrets/" not in p)
loaded = {}
for p in files:
    if p.endswith(".json"):
        def load(p=p):
            with open(p) as f:
                loaded[rel(p)] = json.load(f)
        check(f"JSON parses: {rel(p)}", load)
    elif p.endswith((".yml", ".yaml")):
        def load(p=p):
            with open(p) as f:
                loaded[rel(p)] = yaml.safe_load(f)
        check(f"YAML parses: {rel(p)}", load)

def read(path):
    with open(os.path.join(repo, path)) as f:
        return f.read()

compose = loaded.get("compose.yaml") or {}
services = compose.get("services") or {}
# the service replicas: every service that runs the service image with `serve`
replicas = sorted(n for n, s in services.items() if s.get("command") == ["serve"])
haproxy = services.get("haproxy") or {}
haproxy_address = str(((haproxy.get("networks") or {}).get("default") or {}).get("ipv4_address", ""))

# The executable's verbs, from its source.
cli = read("src/Paku.Ota.Api/Cli/CommandLine.cs")
verbs = set(re.findall(r'case\s+"([a-z-]+)"', cli))

def executable_has_verbs():
    missing = {"serve", "migrate"} - verbs
    return f"verbs not in CommandLine.cs: {sorted(missing)}" if missing else None
check("the executable has the verbs serve and migrate", executable_has_verbs)

def migrate_service():
    m = services.get("migrate") or {}
    if m.get("command") != ["migrate"]:
        return f"command is {m.get('command')!r}, expected ['migrate']"
    if m.get("command")[0] not in verbs:
        return "migrate is not a verb of the executable"
    if str(m.get("restart")) != "no":
        return f"restart is {m.get('restart')!r}, expected \"no\""
    for node in ("pg1", "pg2"):
        dep = (m.get("depends_on") or {}).get(node) or {}
        if dep.get("condition") != "service_healthy":
            return f"must depend on {node} being healthy"
    if any(m.get("image") != (services.get(r) or {}).get("image") for r in replicas):
        return "must run the same image as the service replicas"
    return None
check("compose: migrate runs `migrate` once, after pg1 and pg2 are healthy, on the service image", migrate_service)

def ota_services():
    if len(replicas) < 2:
        return f"service replicas are {replicas}; the stack runs two or more behind haproxy"
    for name in replicas:
        o = services[name]
        if "serve" not in verbs:
            return "serve is not a verb of the executable"
        dep = (o.get("depends_on") or {}).get("migrate") or {}
        if dep.get("condition") != "service_completed_successfully":
            return f"{name} must depend on migrate with service_completed_successfully"
        if o.get("ports"):
            return f"{name} publishes ports; devices and admins come through haproxy"
        env = o.get("environment") or {}
        cs = str(env.get("ConnectionStrings__Ota", ""))
        if not re.search(r"Host=pg1:5432,pg2:5432;", cs) or "Target Session Attributes=primary" not in cs:
            return f"{name}: ConnectionStrings__Ota must list pg1 and pg2 with Target Session Attributes=primary"
        if env.get("ASPNETCORE_ENVIRONMENT") != "Production":
            return f"{name}: ASPNETCORE_ENVIRONMENT is not Production"
        for key in ("Ota__Devices__FleetCaPath", "Ota__Https__CertificatePath", "Ota__Https__KeyPath",
                    "Ota__ApiKeys__0__Name", "Ota__ApiKeys__0__Hash", "Ota__ApiKeys__0__Scope",
                    "Ota__Signing__PublicKeys__0__Id", "Ota__Signing__PublicKeys__0__Path",
                    "Ota__Signing__RequireSigned", "Ota__Devices__ForwardedCertificateHeader"):
            if key not in env:
                return f"{name}: {key} is not set"
        if str(env.get("Ota__Devices__TrustedProxies__0")) != haproxy_address or not haproxy_address:
            return f"{name}: the trusted proxy {env.get('Ota__Devices__TrustedProxies__0')!r} is not haproxy's address {haproxy_address!r}"
        if not any(str(v).startswith("./secrets:") and str(v).endswith(":ro") for v in o.get("volumes") or []):
            return f"{name}: ./secrets is not mounted read-only"
    return None
check("compose: two or more replicas serve after migrate succeeded, both PostgreSQL hosts, haproxy trusted, secrets read-only", ota_services)

def haproxy_config():
    ports = [str(p) for p in haproxy.get("ports") or []]
    for port in ("8080", "8443", "9443"):
        if not any(p.endswith(":" + port) for p in ports):
            return f"haproxy does not publish container port {port}"
    mounts = [str(v) for v in haproxy.get("volumes") or []]
    if not any(v.startswith("./haproxy/haproxy.cfg:") for v in mounts):
        return "haproxy.cfg is not mounted"
    cfg = read("deploy/haproxy/haproxy.cfg")
    sections = {}
    for block in re.split(r"\n(?=\S)", cfg):
        head = block.split("\n", 1)[0].split()
        if len(head) >= 2:
            sections[(head[0], head[1])] = block
    for backend, port in (("replicas_tls", "8443"), ("replicas_http", "8080")):
        body = sections.get(("backend", backend), "")
        servers = re.findall(r"^\s*server\s+\S+\s+([\w-]+):(\d+)", body, re.M)
        if sorted(h for h, _ in servers) != replicas or any(p != port for _, p in servers):
            return f"backend {backend} has servers {servers}, expected every replica {replicas} on {port}"
        if "option httpchk GET /health" not in body:
            return f"backend {backend} does not check /health"
    header = services[replicas[0]]["environment"]["Ota__Devices__ForwardedCertificateHeader"]
    for (kind, name), body in sections.items():
        if kind == "frontend" and "mode http" in body and f"del-header {header}" not in body:
            return f"frontend {name} passes a client's own {header} header on"
    term = sections.get(("frontend", "devices_terminate"), "")
    if f"set-header {header} %[ssl_c_der,base64]" not in term or "ssl crt" not in term:
        return f"frontend devices_terminate does not terminate TLS and forward the certificate in {header}"
    if "mode tcp" not in sections.get(("frontend", "devices_passthrough"), ""):
        return "frontend devices_passthrough is not TLS passthrough (mode tcp)"
    return None
check("haproxy: device TLS passed through and terminated (certificate forwarded, client header removed), /health checks on every replica", haproxy_config)

def patroni():
    conf = yaml.safe_load(read("deploy/patroni/patroni.yml"))
    dcs = conf["bootstrap"]["dcs"]
    if dcs.get("synchronous_mode") is not True or dcs.get("synchronous_mode_strict") is not True:
        return "synchronous_mode and synchronous_mode_strict must be true (no acknowledged write lost in a failover)"
    if str(dcs["postgresql"]["parameters"].get("synchronous_commit")) != "on":
        return "synchronous_commit must be on"
    if not os.path.exists(os.path.join(deploy, "patroni", "post-bootstrap.sh")):
        return "patroni/post-bootstrap.sh is missing"
    for node in ("pg1", "pg2"):
        pg = services.get(node) or {}
        env = pg.get("environment") or {}
        if env.get("PATRONI_NAME") != node or not any(":/var/lib/postgresql/data" in str(v) for v in pg.get("volumes") or []):
            return f"{node}: PATRONI_NAME or its data volume is wrong"
        if "8008" not in " ".join(map(str, (pg.get("healthcheck") or {}).get("test") or [])):
            return f"{node} has no healthcheck on Patroni's REST API"
    return None
check("patroni: pg1 and pg2 under Patroni, synchronous_mode_strict with synchronous_commit on", patroni)

def offload_nginx():
    ng = services.get("nginx") or {}
    mounts = [str(v) for v in ng.get("volumes") or []]
    if not any(v.startswith("./nginx:") for v in mounts) or not os.path.exists(os.path.join(deploy, "nginx", "render.sh")):
        return "nginx does not mount deploy/nginx (render.sh and its template)"
    served = next((v.split(":")[1] for v in mounts if v.startswith("artifacts:")), None)
    if not served or not mounts[[v.startswith("artifacts:") for v in mounts].index(True)].endswith(":ro"):
        return "nginx does not mount the artifacts volume read-only"
    command = " ".join(map(str, ng.get("command") or []))
    if f"render.sh /tmp/nginx 0.0.0.0:8081 {served} " not in command:
        return f"nginx's render.sh does not serve {served}"
    secret = (ng.get("environment") or {}).get("OTA_OFFLOAD_SECRET")
    for name in replicas:
        env = services[name].get("environment") or {}
        if env.get("Ota__Artifacts__Store") != "directory" or env.get("Ota__Artifacts__Directory") != served:
            return f"{name} does not store images in {served}, the directory nginx serves"
        if f"artifacts:{served}" not in [str(v) for v in services[name].get("volumes") or []]:
            return f"{name} does not mount the artifacts volume at {served}"
        if env.get("Ota__Offload__Secret") != secret or not secret:
            return f"{name}'s Ota__Offload__Secret is not nginx's secret"
        if not str(env.get("Ota__Offload__BaseUrl", "")).startswith("${"):
            return f"{name}'s Ota__Offload__BaseUrl is not taken from deploy/.env"
    return None
check("nginx: serves the replicas' image directory read-only with their offload secret", offload_nginx)

def other_services():
    missing = {"etcd", "pg1", "pg2", "migrate", "haproxy", "prometheus", "grafana"} - set(services)
    if missing:
        return f"missing services {sorted(missing)}"
    for name in ("prometheus", "grafana"):
        for v in services[name].get("volumes") or []:
            src = str(v).split(":")[0]
            if src.startswith(".") and not os.path.exists(os.path.join(deploy, src)):
                return f"{name} mounts {src}, which does not exist"
    return None
check("compose: etcd, pg1, pg2, haproxy, prometheus and grafana are there and their mounts exist", other_services)

def dockerfile():
    text = read("deploy/Dockerfile")
    lines = [l.strip() for l in re.sub(r"\\\n", " ", text).splitlines() if l.strip() and not l.strip().startswith("#")]
    def one(instr):
        found = [l[len(instr):].strip() for l in lines if l.upper().startswith(instr + " ")]
        return found[-1] if found else None
    froms = [l.split()[1] for l in lines if l.upper().startswith("FROM ")]
    if froms[:1] != ["mcr.microsoft.com/dotnet/sdk:10.0"] or froms[-1] != "mcr.microsoft.com/dotnet/aspnet:10.0":
        return f"stages are {froms}"
    if json.loads(one("ENTRYPOINT") or "null") != ["dotnet", "Paku.Ota.Api.dll"]:
        return f"ENTRYPOINT is {one('ENTRYPOINT')}"
    cmd = json.loads(one("CMD") or "null")
    if cmd != ["serve"] or cmd[0] not in verbs:
        return f"CMD is {one('CMD')}, expected [\"serve\"]"
    if sorted((one("EXPOSE") or "").split()) != ["8080", "8443"]:
        return f"EXPOSE is {one('EXPOSE')}"
    user = one("USER") or "root"
    if user in ("root", "0"):
        return "runs as root"
    if "http://localhost:8080/health" not in (one("HEALTHCHECK") or ""):
        return "HEALTHCHECK does not query http://localhost:8080/health"
    if "src/Paku.Ota.Api/Paku.Ota.Api.csproj" not in text or "Release" not in text:
        return "does not publish src/Paku.Ota.Api in Release"
    api = read("src/Paku.Ota.Api/Paku.Ota.Api.csproj")
    if "<AssemblyName>" in api and "<AssemblyName>Paku.Ota.Api</AssemblyName>" not in api:
        return "the project's assembly is not Paku.Ota.Api.dll"
    if 'MapGet("/health"' not in read("src/Paku.Ota.Api/Endpoints/HealthEndpoints.cs"):
        return "the service maps no /health endpoint"
    return None
check("Dockerfile: sdk -> aspnet, non-root, EXPOSE 8080 8443, /health check, ENTRYPOINT and CMD match the verbs", dockerfile)

def scrape_target():
    prom = loaded["prometheus/prometheus.yml"]
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    job = jobs.get("paku-ota")
    if not job:
        return "no job paku-ota (OtaServiceDown keys on it)"
    targets = [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
    if targets != [f"{r}:8080" for r in replicas] or job.get("metrics_path", "/metrics") != "/metrics":
        return f"targets {targets}, path {job.get('metrics_path')}; expected every replica {replicas}"
    mounted = [str(v) for v in services["prometheus"].get("volumes") or []]
    for f in prom.get("rule_files", []):
        if not any(v.startswith(f"./prometheus/{f}:") for v in mounted):
            return f"rule file {f} is not mounted into the prometheus container"
    return None
check("prometheus.yml scrapes every replica's /metrics and its rule files are mounted", scrape_target)

REQUIRED_ALERTS = {"OtaUpdateFailureRateHigh", "OtaRolloutStuck", "OtaDevicesUnseenAfterUpdate",
                   "OtaFirmwareStorageHigh", "OtaServiceDown"}
def alerts():
    rules = [r for g in loaded["prometheus/alerts.yml"]["groups"] for r in g["rules"] if "alert" in r]
    names = {r["alert"] for r in rules}
    if REQUIRED_ALERTS - names:
        return f"missing alerts {sorted(REQUIRED_ALERTS - names)}"
    for r in rules:
        if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
            return f"{r['alert']} has no severity label"
        ann = r.get("annotations") or {}
        if not ann.get("summary") or not ann.get("description"):
            return f"{r['alert']} lacks a summary or description annotation"
    tests = loaded["prometheus/alerts.test.yml"]["tests"]
    for name in names:
        cases = [c for t in tests for c in t.get("alert_rule_test", []) if c["alertname"] == name]
        if not any(c.get("exp_alerts") for c in cases) or not any(not c.get("exp_alerts") for c in cases):
            return f"{name} is not tested both firing and silent in alerts.test.yml"
    return None
check("alerts.yml: the five alerts, each with severity, summary, description, tested firing and silent", alerts)

def grafana():
    ds = loaded["grafana/provisioning/datasources/paku-ota.yaml"]["datasources"]
    uids = {d["uid"]: d["type"] for d in ds}
    if sorted(uids.values()) != ["grafana-postgresql-datasource", "prometheus"]:
        return f"data sources are {uids}"
    pg = next(d for d in ds if d["type"] == "grafana-postgresql-datasource")
    for field in (pg.get("url"), pg.get("user"), (pg.get("secureJsonData") or {}).get("password")):
        if not re.fullmatch(r"\$\{?[A-Z_]+\}?", str(field)):
            return f"PostgreSQL data source field {field!r} is not an environment variable"
    env = services["grafana"].get("environment") or {}
    for var in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", json.dumps(ds)):
        if var not in env:
            return f"grafana's environment does not set {var}"
    dash = loaded["grafana/dashboards/ota.json"]
    def panels(c):
        for p in c.get("panels", []):
            yield p
            yield from panels(p)
    sql = 0
    for p in panels(dash):
        for ref in [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]:
            if isinstance(ref, dict) and ref.get("uid") not in uids:
                return f"panel {p.get('title')!r} uses data source {ref.get('uid')!r}, not provisioned"
        for t in p.get("targets", []):
            if "rawSql" in t:
                sql += 1
                if "$" in t["rawSql"]:
                    return f"panel {p.get('title')!r}: SQL with Grafana macros or variables"
    if sql == 0:
        return "the dashboard has no SQL panels"
    provider = loaded["grafana/provisioning/dashboards/paku-ota.yaml"]["providers"][0]["options"]["path"]
    if not any(str(v).startswith("./grafana/dashboards:" + provider) for v in services["grafana"].get("volumes") or []):
        return f"the dashboards folder is not mounted at the provider's path {provider}"
    return None
check("grafana: provisioned data sources (from env vars) cover every panel; dashboards mounted where the provider looks", grafana)

def env_example():
    text = read("deploy/.env.example")
    defined = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", text, re.M))
    raw = read("deploy/compose.yaml")
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):?\?", raw))
    if required - set(defined):
        return f"compose requires {sorted(required - set(defined))}, not in .env.example"
    for key, value in defined.items():
        if re.search(r"PASSWORD|HASH|SECRET|KEY$", key) and "change-me" not in value:
            return f"{key} does not hold a change-me placeholder"
    ignored = read("deploy/.gitignore").split()
    if ".env" not in ignored:
        return "deploy/.env is not git-ignored"
    return None
check(".env.example defines every required variable with placeholders; deploy/.env is git-ignored", env_example)
PY
  )
fi

# ---- Prometheus 3 ------------------------------------------------------------------------------
# compose runs Prometheus 3 (PROMETHEUS_VERSION), Debian's promtool is 2.x: what 3.x removed or reads
# differently must not be in the rules or the configuration, since promtool 2.x would not notice.
if [ -n "$py" ]; then
  report < <("$py" - "$deploy" <<'PY' 2>&1
import os, re, sys
deploy = sys.argv[1]
read = lambda p: open(os.path.join(deploy, p)).read()
problems = []
compose = read("compose.yaml")
version = re.search(r"prom/prometheus:\$\{PROMETHEUS_VERSION:-v(\d+)\.", compose)
if not version or version.group(1) != "3":
    problems.append("compose no longer runs Prometheus 3.x: revisit this check")
rules = read("prometheus/alerts.yml") + read("prometheus/alerts.test.yml")
for pattern, why in [
    (r"\bholt_winters\s*\(", "holt_winters is double_exponential_smoothing in 3.x"),
    (r'\ble\s*=~?\s*"\d+"', 'le label values are floats in 3.x ("1.0", not "1")'),
    (r'\bquantile\s*=~?\s*"\d+"', 'quantile label values are floats in 3.x'),
]:
    if re.search(pattern, rules):
        problems.append(why)
config = read("prometheus/prometheus.yml")
for field in ("scrape_classic_histograms", "enable_http2: false"):
    if field in config:
        problems.append(f"prometheus.yml uses {field}, changed in 3.x")
for flag in ("--storage.tsdb.retention=", "--alertmanager.timeout", "--storage.tsdb.allow-overlapping-blocks",
             "--query.lookback-delta", "--enable-feature=promql-at-modifier", "--enable-feature=remote-write-receiver"):
    if flag in compose:
        problems.append(f"compose passes {flag}, removed or changed in 3.x")
print(("FAIL " if problems else "ok ") + "rules, config and flags use nothing Prometheus 3 removed or reads differently"
      + (": " + "; ".join(problems) if problems else ""))
PY
  )
fi

# ---- the production recipe of deploy/README.md ---------------------------------------------------
# The bash block under "## Production recipe" runs as written, from the repository root, with DEPLOY a
# scratch copy of deploy/ (no secrets, no .env), HOME a scratch folder, and docker recorded, not run.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
recipe=$(awk '/^## Production recipe/{on=1} on && /^```bash$/{code=1; next} code && /^```$/{exit} code' "$deploy/README.md")
if [ -z "$recipe" ]; then
  fail "deploy/README.md has a bash block under '## Production recipe'"
else
  mkdir -p "$scratch/home" "$scratch/deploy"
  (cd "$deploy" && tar --exclude='./secrets/*' --exclude='./.env' -cf - .) | tar -C "$scratch/deploy" -xf -
  cp "$deploy/secrets/README.md" "$scratch/deploy/secrets/"
  if out=$(cd "$repo" && env -u OFFLINE HOME="$scratch/home" DEPLOY="$scratch/deploy" bash -euo pipefail -c \
      "docker() { echo \"docker \$*\" >> '$scratch/docker-calls'; }; sudo() { return 1; }; $recipe" 2>&1); then
    pass "the production recipe of deploy/README.md runs as written"
  else
    fail "the production recipe of deploy/README.md runs as written"
    sed 's/^/       /' <<<"$out"
  fi
  if [ -n "$py" ]; then
    report < <("$py" - "$scratch" <<'PY' 2>&1
import os, re, sys
import yaml
scratch = sys.argv[1]
deploy = os.path.join(scratch, "deploy")
compose = yaml.safe_load(open(os.path.join(deploy, "compose.yaml")))

def result(name, why):
    print(("FAIL " if why else "ok ") + name + (": " + why if why else ""))

# every file a service reads from a mounted folder, named as the recipe's verbs wrote it
missing = []
for name, service in (compose.get("services") or {}).items():
    mounts = [str(v).split(":") for v in service.get("volumes") or [] if str(v).startswith("./")]
    for value in (service.get("environment") or {}).values():
        for source, target, *_ in mounts:
            if isinstance(value, str) and value.startswith(target + "/"):
                path = os.path.join(deploy, source, value[len(target) + 1:])
                if not os.path.isfile(path):
                    missing.append(f"{name}: {value} (deploy/{os.path.normpath(os.path.join(source, value[len(target) + 1:]))})")
    for source, *_ in mounts:
        if not os.path.exists(os.path.join(deploy, source)):
            missing.append(f"{name}: mount source {source}")
result("after the recipe, every file compose mounts exists under the name the verbs wrote", "; ".join(missing))

secrets = os.path.join(deploy, "secrets")
private = [f for f in os.listdir(secrets) if f not in ("server.key", "haproxy-server.pem") and "PRIVATE KEY" in open(os.path.join(secrets, f), errors="replace").read()]
result("no private key but the server's (server.key, haproxy-server.pem) is in deploy/secrets (ca.key and signing.key stay offline)", ", ".join(private))

env = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", open(os.path.join(deploy, ".env")).read(), re.M))
left = [k for k, v in env.items() if "change-me" in v]
bad_hash = "" if re.fullmatch(r"'sha256:[^']+'", env.get("OTA_ADMIN_KEY_HASH", "")) else f"OTA_ADMIN_KEY_HASH is {env.get('OTA_ADMIN_KEY_HASH')!r}"
result("the recipe's .env has no change-me value and the admin key's hash", "; ".join(filter(None, [", ".join(left), bad_hash])))

calls = open(os.path.join(scratch, "docker-calls")).read() if os.path.exists(os.path.join(scratch, "docker-calls")) else ""
result("the recipe starts the stack with docker compose up", "" if re.search(r"^docker compose -f \S+/compose.yaml up -d --build$", calls, re.M) else f"docker calls: {calls!r}")
PY
    )
  fi
fi

echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

"""What the schemas cannot see in deploy/: that the Dockerfile, the Kubernetes manifests and compose.yaml
agree with each other and with the server's settings.

Every VECFLOW_* variable set anywhere must be one the server reads (vecflow.config.SETTINGS_DOCS), every
AWS_* one boto3 reads; the environment each vecflow container gets (the image's ENV, then ConfigMap and
Secret, then its own env) must pass Settings.from_env and name the role, PostgreSQL, a Milvus server and an
S3 bucket; probes, Services and PodDisruptionBudgets must point at ports and pods that exist; the pods run as
the image's non-root user; kustomization.yaml lists every manifest. Run by scripts/lint_deploy.sh, after the
schema checks. Usage: python scripts/lint_deploy.py [DEPLOY_DIR]; exit code 1 with one line per problem.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml  # PyYAML: kubernetes-validate (the dev extra) depends on it
from vecflow.config import SETTINGS_DOCS, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
# The standard AWS variables that boto3 reads and docs/configuration.md ("Object storage") names.
AWS_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "AWS_RESPONSE_CHECKSUM_VALIDATION",
}
SETTINGS = {name for names, _default, _meaning in SETTINGS_DOCS for name in names}
ROLES = {"vecflow-api": "api", "vecflow-worker": "worker", "api": "api", "worker": "worker"}
REPLICAS = 2  # the laptop cluster and the Deployments: two api and two worker replicas


class Problems(list[str]):
    def check(self, ok: object, where: str, message: str) -> None:
        if not ok:
            self.append(f"{where}: {message}")


def dockerfile(path: Path, problems: Problems) -> tuple[dict[str, str], int, int]:
    """The runtime stage's ENV, its USER's uid and its gRPC port (ENV VECFLOW_LISTEN_ADDRESS)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages = re.split(r"(?m)^FROM\s", text)
    runtime = stages[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"(?m)^ENV\s+(.*)$", runtime):
        for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", line):
            env[key] = value
    users = re.findall(r"(?m)^USER\s+(\S+)", runtime)
    uid = -1
    problems.check(users, str(path), "the runtime stage sets no USER")
    if users:
        user = users[-1].split(":")[0]
        problems.check(user.isdigit() and int(user) > 0, str(path), f"USER {users[-1]} must be a numeric uid, not 0")
        uid = int(user) if user.isdigit() else -1
    health = re.findall(r"(?m)^HEALTHCHECK\s+(.*)$", runtime)
    problems.check(health and '"vecflow", "health"' in health[-1], str(path), "HEALTHCHECK must run `vecflow health`")
    pinned = re.search(r"VECFLOW_TORCH_VERSION:-([0-9][^}]*)\}", (ROOT / "scripts" / "setup.sh").read_text())
    torch = re.search(r"(?m)^ARG TORCH_VERSION=(\S+)", text)
    problems.check(
        pinned and torch and pinned.group(1) == torch.group(1),
        str(path),
        f"ARG TORCH_VERSION={torch and torch.group(1)} differs from scripts/setup.sh's {pinned and pinned.group(1)}",
    )
    port = int(env.get("VECFLOW_LISTEN_ADDRESS", ":0").rsplit(":", 1)[1])
    problems.check(re.search(rf"(?m)^EXPOSE\s.*\b{port}\b", runtime), str(path), f"EXPOSE lacks the gRPC port {port}")
    return env, uid, port


def names(env: Mapping[str, Any], where: str, problems: Problems) -> None:
    for name in env:
        if name.startswith("VECFLOW_"):
            problems.check(name in SETTINGS, where, f"{name} is not a vecflow setting (docs/configuration.md)")
        elif name.startswith("AWS_"):
            problems.check(name in AWS_VARIABLES, where, f"{name} is not an AWS variable boto3 reads")


def settings(env: Mapping[str, Any], where: str, role: str | None, problems: Problems) -> Settings | None:
    """The container's settings as the server would read them; None (and a problem) when they do not parse."""
    strings = {k: "" if v is None else str(v) for k, v in env.items()}
    try:
        parsed = Settings.from_env(strings)
    except SettingsError as err:
        problems.append(f"{where}: {err}")
        return None
    if role is not None:
        problems.check(parsed.role == role, where, f"VECFLOW_ROLE is {parsed.role!r}, expected {role!r}")
    problems.check(
        parsed.database_url.startswith("postgresql+asyncpg://"),
        where,
        "VECFLOW_DATABASE_URL must be PostgreSQL (postgresql+asyncpg://...), the database replicas share",
    )
    problems.check(
        parsed.milvus_uri.startswith(("http://", "https://")),
        where,
        "VECFLOW_MILVUS_URI must be a Milvus server (http(s)://host:port), not a milvus-lite file",
    )
    problems.check(parsed.blob_url.startswith("s3://"), where, "VECFLOW_BLOB_URL must be s3://BUCKET/PREFIX")
    problems.check("AWS_ACCESS_KEY_ID" in env and "AWS_SECRET_ACCESS_KEY" in env, where, "no AWS_* credentials")
    problems.check(len(parsed.bootstrap_api_key) >= 20, where, "VECFLOW_BOOTSTRAP_API_KEY: 20 characters or more")
    return parsed


# Kubernetes ---------------------------------------------------------------------------------------------


def documents(k8s: Path, problems: Problems) -> Iterator[tuple[Path, dict[str, Any]]]:
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    listed = set(kustomization.get("resources", []))
    files = {p.name for p in k8s.glob("*.yaml") if p.name != "kustomization.yaml"}
    problems.check(listed == files, str(k8s / "kustomization.yaml"), f"resources {sorted(listed)} != {sorted(files)}")
    for name in sorted(files):
        for doc in yaml.safe_load_all((k8s / name).read_text()):
            if doc:
                yield k8s / name, doc


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def is_vecflow(template: Mapping[str, Any]) -> bool:
    return any(str(c.get("image", "")).startswith("vecflow") for c in template["spec"]["containers"])


def host_port(url: str) -> tuple[str, int | None]:
    """('embeddings', 80) of http://embeddings:80/..., ('postgres', 5432) of postgresql+asyncpg://u:p@postgres:5432/db."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port


def kubernetes(k8s: Path, image_env: dict[str, str], uid: int, port: int, problems: Problems) -> None:
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for _path, doc in documents(k8s, problems):
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    pods = {name: d["spec"]["template"] for name, d in deployments.items()}
    ours = {name for name, template in pods.items() if is_vecflow(template)}
    problems.check(ours == {"vecflow-api", "vecflow-worker"}, str(k8s), f"vecflow Deployments are {sorted(ours)}")
    for name, d in deployments.items():
        problems.check(
            matches(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]),
            f"Deployment {name}",
            "selector does not match its pod labels",
        )
    workloads: list[tuple[str, dict[str, Any], str | None]] = []
    for name in sorted(ours):
        problems.check(deployments[name]["spec"].get("replicas") == REPLICAS, f"Deployment {name}", "replicas: 2")
        workloads.append((f"Deployment {name}", pods[name], ROLES[name]))
    jobs = by_kind.get("Job", {})
    problems.check(jobs, str(k8s), "no Job runs `vecflow migrate`")
    workloads += [(f"Job {name}", j["spec"]["template"], None) for name, j in jobs.items()]

    for where, template, role in workloads:
        spec = template["spec"]
        pod_security = spec.get("securityContext", {})
        problems.check(pod_security.get("runAsNonRoot") is True, where, "runAsNonRoot: true")
        problems.check(pod_security.get("runAsUser") == uid, where, f"runAsUser must be the image's uid {uid}")
        for container in spec["containers"]:
            container_problems(
                container, f"{where} container {container['name']}", role, by_kind, image_env, port, problems
            )

    for name, service in services.items():
        selected = [p for p, t in pods.items() if matches(service["spec"]["selector"], t["metadata"]["labels"])]
        problems.check(len(selected) == 1, f"Service {name}", f"selects the pods of {selected}, not of one Deployment")
        named = {
            p.get("name")
            for t in (pods[d] for d in selected)
            for c in t["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for service_port in service["spec"]["ports"]:
            target = service_port.get("targetPort", service_port["port"])
            problems.check(target in named, f"Service {name}", f"targetPort {target} is no named port of its pods")
    problems.check(
        any(matches(s["spec"]["selector"], pods["vecflow-api"]["metadata"]["labels"]) for s in services.values())
        if "vecflow-api" in pods
        else False,
        str(k8s),
        "no Service selects the API pods",
    )
    covered = set()
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        selected = [p for p, t in pods.items() if matches(selector, t["metadata"]["labels"])]
        problems.check(len(selected) == 1, f"PodDisruptionBudget {name}", f"selects the pods of {selected}")
        covered.update(selected)
    problems.check(covered == set(pods), str(k8s), f"Deployments without a PodDisruptionBudget: {set(pods) - covered}")


def container_problems(
    container: Mapping[str, Any],
    where: str,
    role: str | None,
    by_kind: Mapping[str, Mapping[str, Mapping[str, Any]]],
    image_env: Mapping[str, str],
    port: int,
    problems: Problems,
) -> None:
    """One vecflow container of a Deployment (role api or worker) or of the migration Job (role None)."""
    env = dict(image_env)
    for source in container.get("envFrom", []):
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        ref = source.get("configMapRef") or source.get("secretRef")
        found = by_kind.get(kind, {}).get(ref["name"])
        problems.check(found, where, f"envFrom names {kind} {ref['name']}, which is not in the manifests")
        if found:
            data = found.get("data") or found.get("stringData") or {}
            names(data, f"{kind} {ref['name']}", problems)
            env.update(data)
    own = {e["name"]: e.get("value", "set-from-the-pod") for e in container.get("env", [])}
    names(own, where, problems)
    env.update(own)
    if role is None:
        problems.check(container.get("args") == ["migrate"], where, 'args: ["migrate"]')
    parsed = settings(env, where, role, problems)
    requests = container.get("resources", {}).get("requests", {})
    problems.check({"cpu", "memory"} <= set(requests), where, "resources.requests needs cpu and memory")
    security = container.get("securityContext", {})
    problems.check(security.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation: false")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    if security.get("readOnlyRootFilesystem"):
        problems.check("/tmp" in mounts, where, "a read-only root file system needs a volume at /tmp")
    if parsed is None:
        return
    problems.check(str(parsed.data_dir) in mounts, where, f"no volume at the data dir {parsed.data_dir}")
    if parsed.embedding_endpoint:
        host, service_port = host_port(parsed.embedding_endpoint)
        service = by_kind.get("Service", {}).get(host)
        problems.check(service, where, f"VECFLOW_EMBEDDING_ENDPOINT names {host!r}, which is no Service here")
        if service:
            ports = {p["port"] for p in service["spec"]["ports"]}
            problems.check(
                service_port in ports, where, f"VECFLOW_EMBEDDING_ENDPOINT port {service_port} not in {ports}"
            )
    if role is None:
        return
    listen = int(parsed.listen_address.rsplit(":", 1)[1])
    problems.check(listen == port, where, f"listens on {listen}, the image's HEALTHCHECK asks {port}")
    ports = {p["containerPort"]: p.get("name") for p in container.get("ports", [])}
    problems.check(listen in ports, where, f"containerPort {listen} (the listen address) is not declared")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc = container.get(probe, {}).get("grpc")
        problems.check(grpc, where, f"{probe} must be a grpc probe (grpc.health.v1)")
        if grpc:
            problems.check(grpc["port"] == listen, where, f"{probe} asks port {grpc['port']}, not {listen}")


# Compose ------------------------------------------------------------------------------------------------


def compose(path: Path, image_env: dict[str, str], problems: Problems) -> None:
    spec = yaml.safe_load(path.read_text())
    services: dict[str, dict[str, Any]] = spec["services"]
    for needed in ("postgres", "milvus", "minio", "migrate", "api", "worker"):
        problems.check(needed in services, str(path), f"no service {needed!r}")
    for name, service in services.items():
        where = f"{path.name} service {name}"
        for dependency in service.get("depends_on", {}):
            problems.check(dependency in services, where, f"depends on {dependency!r}, which is not a service")
        if not str(service.get("image", "")).startswith("vecflow"):
            continue
        problems.check(service.get("build", {}).get("dockerfile") == "deploy/Dockerfile", where, "build: Dockerfile")
        env = service.get("environment", {})
        problems.check(isinstance(env, dict), where, "environment must be a mapping")
        names(env, where, problems)
        role = ROLES.get(name)
        parsed = settings({**image_env, **env}, where, role, problems)
        if parsed is not None:
            for variable, url in (
                ("VECFLOW_DATABASE_URL", parsed.database_url),
                ("VECFLOW_MILVUS_URI", parsed.milvus_uri),
                ("VECFLOW_EMBEDDING_ENDPOINT", parsed.embedding_endpoint),
                ("AWS_ENDPOINT_URL", str(env.get("AWS_ENDPOINT_URL", ""))),
            ):
                host = host_port(url)[0] if url else ""
                problems.check(not url or host in services, where, f"{variable} names {host!r}, which is no service")
        if role is not None:
            replicas = service.get("deploy", {}).get("replicas")
            problems.check(replicas == REPLICAS, where, f"deploy.replicas is {replicas}, expected {REPLICAS}")
        else:
            problems.check(service.get("command") == ["migrate"], where, 'command: ["migrate"]')


def main(argv: list[str]) -> int:
    deploy = Path(argv[0]) if argv else ROOT / "deploy"
    problems = Problems()
    image_env, uid, port = dockerfile(deploy / "Dockerfile", problems)
    names(image_env, "Dockerfile", problems)
    kubernetes(deploy / "k8s", image_env, uid, port, problems)
    compose(deploy / "compose.yaml", image_env, problems)
    for problem in dict.fromkeys(problems):  # a ConfigMap's problem is every pod's: say it once
        print(f"lint_deploy: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"lint_deploy: {deploy}: Dockerfile, k8s/ and compose.yaml agree with each other and the settings")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

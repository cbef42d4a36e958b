"""deploy/k8s: both overlays render (deploy/k8s/render.py, kustomize's semantics), every object
validates offline against the Kubernetes JSON schemas (kubernetes-validate bundles them), and the
manifests carry what the code needs: every setting read from the environment, credentials in the
Secret only, probes on /livez and /readyz, non-root read-only pods, a single beat, one worker
Deployment per queue of config/celery.py, migrations before the new pods start."""

import base64
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from config import celery as celery_config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["dev", "production"]
# The oldest Kubernetes release the manifests support (README) and the newest bundled schemas.
KUBERNETES_VERSIONS = ["1.30.0", str(kubernetes_validate.utils.latest_version())]

_spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
render = sys.modules["k8s_render"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)

# Names that hold a credential, or a URL of a store that may carry one in its user-info part.
SECRET_TOKENS = {"KEY", "KEYS", "SECRET", "PASSWORD", "TOKEN", "DSN", "CREDENTIALS"}
SECRET_URLS = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
SECRET_URLS |= {"CACHE_URL", "TEST_REDIS_URL"}
# Names with such a word that hold no secret, each with the reason.
NOT_SECRET = {"API_THROTTLE_KEY": "the request rate allowed per API key"}
WORKLOAD_KINDS = {"Deployment", "Job"}


def secret_like(name: str) -> bool:
    if name in NOT_SECRET:
        return False
    return name in SECRET_URLS or bool(SECRET_TOKENS & set(name.split("_")))


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, render.render(K8S / "overlays" / request.param)


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def one(objects, kind):
    [obj] = by_kind(objects, kind).values()
    return obj


def config_and_secret(objects) -> tuple[dict, dict]:
    config = one(objects, "ConfigMap")["data"]
    secret = {k: base64.b64decode(v).decode() for k, v in one(objects, "Secret")["data"].items()}
    return config, secret


def pod_spec(obj) -> dict:
    return obj["spec"]["template"]["spec"]


def all_containers(obj) -> list[dict]:
    spec = pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


# --- the environment the code reads --------------------------------------------------------


def settings_env_reads() -> set[str]:
    """Every variable config/settings/*.py reads (env("X"), env.int("X", ...), os.environ, over
    line breaks too). test.py is the test suite's own and runs in no pod."""
    pattern = re.compile(
        r"""(?:\benv(?:\.\w+)?\(|os\.environ\.get\(|os\.getenv\(|os\.environ\[)\s*["']([A-Z][A-Z0-9_]*)["']"""
    )
    names = set()
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        if path.name != "test.py":
            names |= set(pattern.findall(path.read_text()))
    return names


def env_example_names() -> set[str]:
    """Every variable .env.example lists, set or commented out (`# NAME=value`)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_the_extractions_find_what_they_must():
    """A broken pattern must not make the coverage checks below vacuous."""
    reads = settings_env_reads()
    assert len(reads) > 80
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_TASK_TIME_LIMIT"} <= reads
    assert {"API_THROTTLE_ORDERS", "WEBHOOKS_TIMEOUT_SECONDS"} <= reads  # limits.py, multi-line
    assert {"CLAMD_URL", "LICENSE_SIGNING_KEYS"} <= reads
    example = env_example_names()
    assert len(example) > 70
    assert {"LOGIN_FAILURES_MAX", "WEBHOOKS_ALLOW_LOOPBACK"} <= example  # commented-out ones


# --- rendering and schemas -----------------------------------------------------------------


def test_both_overlays_render_every_component(overlay):
    name, objects = overlay
    kinds = {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in objects}
    assert ("ConfigMap", "datacollective-config") in kinds
    assert ("Secret", "datacollective-secrets") in kinds
    assert set(by_kind(objects, "Deployment")) >= {"web", "beat"}
    assert set(by_kind(objects, "Job")) == {"migrate"}
    assert set(by_kind(objects, "HorizontalPodAutoscaler")) == {"web"}
    assert by_kind(objects, "PodDisruptionBudget") and by_kind(objects, "NetworkPolicy")
    namespace = {"dev": "datacollective-dev", "production": "datacollective"}[name]
    assert {o["metadata"]["namespace"] for o in objects} == {namespace}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(overlay, version):
    _, objects = overlay
    for obj in objects:
        # strict: an unknown (misspelt) field is an error, not silently dropped by the API.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validation_catches_a_misspelt_field(overlay):
    _, objects = overlay
    web = yaml.safe_load(yaml.safe_dump(by_kind(objects, "Deployment")["web"]))
    web["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSIONS[-1], strict=True)


# --- configuration -------------------------------------------------------------------------


def test_every_setting_read_from_the_environment_is_configured(overlay):
    _, objects = overlay
    config, secret = config_and_secret(objects)
    missing = settings_env_reads() - set(config) - set(secret)
    assert not missing, f"add to deploy/k8s/base/config.env or secrets.env: {sorted(missing)}"


def test_every_variable_of_env_example_is_configured(overlay):
    _, objects = overlay
    config, secret = config_and_secret(objects)
    missing = env_example_names() - set(config) - set(secret)
    assert not missing, f"add to deploy/k8s/base/config.env or secrets.env: {sorted(missing)}"


def test_credentials_are_in_the_secret_and_only_there(overlay):
    _, objects = overlay
    config, secret = config_and_secret(objects)
    assert not {n for n in config if secret_like(n)}, "secret-like names in the ConfigMap"
    assert not set(config) & set(secret), "a name in both the ConfigMap and the Secret"
    assert {
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "STRIPE_SECRET_KEY",
        "AWS_SECRET_ACCESS_KEY",
    } <= set(secret)
    assert secret_like("LICENSE_SIGNING_KEYS") and secret_like("CELERY_BROKER_URL")
    assert not secret_like("CELERY_TASK_TIME_LIMIT")
    assert set(NOT_SECRET) <= set(config), "a stale exception"


def test_every_workload_gets_the_config_and_the_secret(overlay):
    _, objects = overlay
    config_name = one(objects, "ConfigMap")["metadata"]["name"]
    secret_name = one(objects, "Secret")["metadata"]["name"]
    for kind in WORKLOAD_KINDS:
        for obj in by_kind(objects, kind).values():
            for container in all_containers(obj):
                refs = container["envFrom"]
                assert {"configMapRef": {"name": config_name}} in refs, obj["metadata"]["name"]
                assert {"secretRef": {"name": secret_name}} in refs, obj["metadata"]["name"]


def test_production_settings_start_with_the_production_config_and_real_secrets(tmp_path):
    """The production ConfigMap passes config/settings/production.py's checks once real
    secrets are given; with the committed (empty) ones it refuses to start."""
    objects = render.render(K8S / "overlays" / "production")
    config, secret = config_and_secret(objects)
    assert not any(secret[n] for n in ("DJANGO_SECRET_KEY", "STRIPE_SECRET_KEY"))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    real = {
        **secret,
        "DJANGO_SECRET_KEY": "k8s-manifest-test-" + "x" * 50,
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/datacollective",
        "REDIS_URL": "rediss://:pw@redis.internal:6379/0",
        "CELERY_BROKER_URL": "rediss://:pw@redis.internal:6379/0",
        "CELERY_RESULT_BACKEND": "rediss://:pw@redis.internal:6379/0",
        "CACHE_URL": "rediss://:pw@redis.internal:6379/1",
        "STRIPE_SECRET_KEY": "sk_live_manifesttest",
        "STRIPE_WEBHOOK_SECRET": "whsec_manifesttest",
        "STRIPE_PUBLISHABLE_KEY": "pk_live_manifesttest",
        # One line, as an env file or a Secret key holds it (licensing/signing.py reads \n).
        "LICENSE_SIGNING_KEYS": pem.decode().replace("\n", "\\n"),
    }
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.CELERY_BROKER_URL, settings.ALLOWED_HOSTS)"
    )

    def start(environment):
        return subprocess.run(
            [sys.executable, "-c", script],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **environment},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = start({**config, **real})
    assert started.returncode == 0, started.stderr[-2000:]
    assert started.stdout.startswith("False rediss://:pw@redis.internal:6379/0")
    refused = start({**config, **secret})
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr


# --- workloads -----------------------------------------------------------------------------


def test_web_probes_livez_and_readyz_with_an_allowed_host(overlay):
    _, objects = overlay
    config, _ = config_and_secret(objects)
    allowed = config["DJANGO_ALLOWED_HOSTS"].split(",")
    [web] = by_kind(objects, "Deployment")["web"]["spec"]["template"]["spec"]["containers"]
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert web["startupProbe"]["httpGet"]["path"] == "/livez"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in allowed, probe
        # Behind SECURE_PROXY_SSL_HEADER: no redirect to https answers instead of the view.
        assert headers["X-Forwarded-Proto"] == "https"


def test_every_pod_is_non_root_with_a_read_only_root_filesystem(overlay):
    _, objects = overlay
    for kind in WORKLOAD_KINDS:
        for name, obj in by_kind(objects, kind).items():
            spec = pod_spec(obj)
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert spec["securityContext"]["runAsUser"] != 0, name
            assert spec["automountServiceAccountToken"] is False, name
            volumes = {v["name"]: v for v in spec["volumes"]}
            for container in all_containers(obj):
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, (name, container["name"])
                assert security["allowPrivilegeEscalation"] is False, name
                assert security["capabilities"]["drop"] == ["ALL"], name
                [tmp] = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
                assert "emptyDir" in volumes[tmp["name"]], name
                resources = container["resources"]
                assert {"cpu", "memory"} <= set(resources["requests"]), (name, container["name"])
                assert "memory" in resources["limits"], (name, container["name"])


def test_beat_is_a_single_replica_replaced_not_rolled(overlay):
    _, objects = overlay
    beat = by_kind(objects, "Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" not in {
        p["metadata"]["name"] for p in by_kind(objects, "HorizontalPodAutoscaler").values()
    }
    [container] = pod_spec(beat)["containers"]
    assert "celery -A config beat" in container["command"][-1]


def worker_argv(deployment, config) -> list[str]:
    """The worker's command as the container's shell expands it (with the ConfigMap's and
    the container's own variables): its argv, one word a line."""
    [container] = pod_spec(deployment)["containers"]
    assert container["command"][:2] == ["sh", "-c"]
    command = container["command"][2]
    assert command.startswith("exec celery ")
    env = {**config, **{e["name"]: e["value"] for e in container.get("env", [])}}
    printed = subprocess.run(
        ["sh", "-c", "printf '%s\\n' " + command.removeprefix("exec ")],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return printed.stdout.splitlines()


def test_one_worker_deployment_per_queue_of_config_celery(overlay):
    _, objects = overlay
    config, _ = config_and_secret(objects)
    expected = celery_config.workload_queues(
        config["CELERY_TASK_DEFAULT_QUEUE"], config["INGESTION_QUEUE"]
    )
    assert len(set(expected.values())) == len(celery_config.WORKLOADS) >= 4
    consumed = {}
    for name, deployment in by_kind(objects, "Deployment").items():
        argv = worker_argv(deployment, config) if name.startswith("worker-") else []
        if not argv:
            continue
        assert argv[:4] == ["celery", "-A", "config", "worker"], argv
        queue = argv[argv.index("-Q") + 1]
        assert "," not in queue, f"{name} consumes several queues: {queue}"
        assert deployment["spec"]["replicas"] >= 1
        consumed[name] = queue
    assert sorted(consumed.values()) == sorted(expected.values()), consumed
    # named after their workload, so `kubectl scale deployment/worker-<workload>` is obvious
    assert consumed == {f"worker-{w}": q for w, q in expected.items()}


def test_migrations_run_in_a_job_and_every_deployment_waits_for_them(overlay):
    _, objects = overlay
    job = by_kind(objects, "Job")["migrate"]
    [container] = pod_spec(job)["containers"]
    assert "manage.py migrate --noinput" in container["command"][-1]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    for name, deployment in by_kind(objects, "Deployment").items():
        [init] = pod_spec(deployment)["initContainers"]
        assert "manage.py migrate --check" in init["command"][-1], name
        [main] = pod_spec(deployment)["containers"]
        assert init["image"] == main["image"] == container["image"], name


def test_web_scales_on_cpu_and_every_budget_selects_real_pods(overlay):
    _, objects = overlay
    deployments = by_kind(objects, "Deployment")
    hpa = by_kind(objects, "HorizontalPodAutoscaler")["web"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "replicas" not in deployments["web"]["spec"], "the HPA owns the web's replica count"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    budgets = by_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == {n for n in deployments if n != "beat"}
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = budget["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name


def test_network_policies_cover_every_pod(overlay):
    _, objects = overlay
    policies = by_kind(objects, "NetworkPolicy")
    default = policies["datacollective-default"]["spec"]
    assert set(default["policyTypes"]) == {"Ingress", "Egress"}
    assert default["ingress"] == []
    for kind in WORKLOAD_KINDS:
        for name, obj in by_kind(objects, kind).items():
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert default["podSelector"]["matchLabels"].items() <= labels.items(), name
    web_ingress = policies["web-ingress"]["spec"]
    assert web_ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


# --- the renderer itself -------------------------------------------------------------------


def test_name_hash_matches_kustomize():
    """kustomize's own test vectors (api/hasher) and the Kubernetes documentation's example."""

    def hashed(kind, name, data, type_=None):
        obj = {"kind": kind, "metadata": {"name": name}}
        if type_:
            obj["type"] = type_
        return render._name_hash(render.Resource(obj, generated=True, plain=data))

    assert hashed("ConfigMap", "", {"one": ""}) == "9g67k2htb6"
    assert hashed("ConfigMap", "example-configmap-2", {"FOO": "Bar"}) == "g2hdhfc6tk"
    assert hashed("Secret", "", {"one": ""}, "my-type") == "74bd68bm66"


def test_secret_values_are_encoded_like_kustomize():
    """Lines of 70 base64 characters, each ended by a newline once there are several."""
    assert render.encode_base64("short") == "c2hvcnQ="
    plain = base64.b64encode(b"x" * 60).decode()  # 80 characters
    long = render.encode_base64("x" * 60)
    assert long == plain[:70] + "\n" + plain[70:] + "\n"
    assert base64.b64decode(long) == b"x" * 60


def test_env_files_are_read_like_kustomize():
    parsed = render.parse_env_file(
        '\ufeff# comment\n\n  A=1\nB=x=y\r\nC=\nD={"usd": 1000}\nE=Name <a@b>  \n'
    )
    assert parsed == {"A": "1", "B": "x=y", "C": "", "D": '{"usd": 1000}', "E": "Name <a@b>  "}
    with pytest.raises(render.RenderError):
        render.parse_env_file("NO_VALUE\n")


def test_an_unsupported_kustomize_feature_fails_loudly(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(render.RenderError, match="namePrefix"):
        render.render(tmp_path)


def test_a_patch_whose_target_matches_nothing_fails(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\npatches:\n  - target: {kind: Deployment, name: web}\n"
        "    patch: '[{op: add, path: /data, value: {}}]'\n"
    )
    with pytest.raises(render.RenderError, match="matches nothing"):
        render.render(tmp_path)


def _without_hash(objects) -> dict:
    """Objects keyed by kind and name, the generated names' hash suffix dropped everywhere."""
    text = re.sub(
        r"(datacollective-(?:config|secrets))-[a-z0-9]{10}\b", r"\1", yaml.safe_dump_all(objects)
    )
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(text) if o}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", OVERLAYS)
def test_the_renderer_agrees_with_kubectl_kustomize(name):
    """Same objects, same fields as `kubectl kustomize` (its embedded kustomize). The hash
    suffixes are compared apart: some kubectl builds (Google Cloud SDK's) hash differently from
    upstream kustomize, whose vectors test_name_hash_matches_kustomize checks."""
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / name)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = _without_hash(list(yaml.safe_load_all(built.stdout)))
    ours = _without_hash(render.render(K8S / "overlays" / name))
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key

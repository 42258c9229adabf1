"""Deployment: the Dockerfile, compose file, HAProxy config and Kubernetes manifests read from the files
themselves, and two replicas behind HAProxy (deploy/haproxy.cfg as checked in) on loopback, driven by
chromium: an upload works through the balancer, both replicas serve readers, and killing one leaves the
other's readers alone while its own get a live replica on reload.

No image can be built here (docker has no engine on this machine): the Dockerfile is checked instruction
by instruction, the manifests against Kubernetes' own schemas (kubernetes-validate, offline).
The balancer tests skip when haproxy is missing (.ci/run installs it), and fail under CI=true.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
from pathlib import Path

import kubernetes_validate
import numpy as np
import pytest
import yaml
from PIL import Image
from streamlit import config as streamlit_config

from core.content_cache import BUDGET_VARIABLE
from tests.balancer import AFFINITY_COOKIE, HAPROXY_CONFIG, REPLICA_NAMES, Cluster, haproxy_missing
from tests.conftest import ELEMENT_TIMEOUT_MS, ROOT, VIEWPORT, AppPage, StreamlitServer

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.latest_version()]  # a release many clusters still run; the newest known
HEALTH = "/_stcore/health"
WARM_SERVER_MIB, UPLOAD_IN_FLIGHT_MB = 490, 300  # README, "Memory": the warm server; issue #20's allowance
WARMED = "/warmed"  # serve.py's route: 200 once its start-up warm-up is over (tests/test_serve.py)
APP_PATHS = ["serve.py", "app.py", ".streamlit/config.toml", "core", "chapters", "ui", "models", "assets"]  # what `streamlit run serve.py` reads
LEFT_OUT = [".venv/bin/python", "tests/conftest.py", "bench/load.py", ".git/HEAD", "screenshots/home.png", "core/__pycache__/checks.cpython-311.pyc"]
# Four flat colors: its palette at the default k = 8 is exactly these (the page says it has only 4).
UPLOAD_COLORS = [(200, 30, 40), (20, 160, 60), (30, 60, 210), (240, 220, 30)]


# --- The Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    logical, instructions = "", []
    for line in path.read_text().splitlines():
        if line.strip().startswith("#") and not logical:
            continue
        logical += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if logical.strip():
                keyword, _, arguments = logical.strip().partition(" ")
                instructions.append((keyword.upper(), " ".join(arguments.split())))
            logical = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    """Every ENV KEY=value of the Dockerfile."""
    found = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            found |= dict(pair.split("=", 1) for pair in shlex.split(arguments))
    return found


def test_dockerfile_parser_joins_continuations_and_skips_comments(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("# a comment\nFROM base\nRUN a \\\n    && b\nENV X=1 \\\n    Y=2\n")
    assert dockerfile_instructions(path) == [("FROM", "base"), ("RUN", "a && b"), ("ENV", "X=1 Y=2")]


def test_image_is_python_311_slim_with_the_pinned_requirements():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    installs = [arguments for keyword, arguments in instructions if keyword == "RUN" and "pip install" in arguments]
    assert len(installs) == 1 and "-r requirements.txt" in installs[0]
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    unpinned = [line for line in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+]+", line)]
    assert requirements and not unpinned, f"every requirement must be pinned with ==: {unpinned}"


def test_image_runs_as_a_user_that_is_not_root():
    instructions = dockerfile_instructions()
    [user] = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert user not in ("root", "0") and not user.startswith("0:")
    created = [
        arguments
        for keyword, arguments in instructions[: instructions.index(("USER", user))]
        if keyword == "RUN" and "useradd" in arguments
    ]
    assert created and created[-1].split()[-1] == user, "the user is made by `useradd ... <user>` before USER"


def test_server_options_are_real_streamlit_options_with_the_deployed_values():
    options = {option.env_var: key for key, option in streamlit_config._config_options_template.items()}
    streamlit_env = {name: value for name, value in dockerfile_env().items() if name.startswith("STREAMLIT_")}
    unknown = set(streamlit_env) - set(options)
    assert not unknown, f"not Streamlit options (a typo is silently ignored): {unknown}"
    chosen = {options[name]: value for name, value in streamlit_env.items()}
    assert chosen["server.address"] == "0.0.0.0"  # reachable from the balancer, not only inside the container
    assert chosen["server.fileWatcherType"] == "none"
    assert chosen["server.headless"] == "true"


def test_healthcheck_asks_the_server_port_for_streamlit_health():
    [healthcheck] = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    port = dockerfile_env()["STREAMLIT_SERVER_PORT"]
    assert f"127.0.0.1:{port}{HEALTH}" in healthcheck
    assert ("EXPOSE", port) in dockerfile_instructions()
    assert dockerfile_instructions()[-1] == ("CMD", '["streamlit", "run", "serve.py"]')  # the server that warms its pages


def docker_context_includes(path: str, patterns: list[str]) -> bool:
    """Whether Docker sends path (relative, with /) in the build context: the last matching .dockerignore
    pattern decides ('!' lets back in); a pattern matching a folder matches everything below it."""
    parts = path.split("/")
    included = True
    for pattern in patterns:
        allow = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if pattern.startswith("**/"):
            matched = any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        else:
            matched = any(fnmatch.fnmatchcase("/".join(parts[:end]), pattern) for end in range(1, len(parts) + 1))
        if matched:
            included = allow
    return included


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def test_dockerignore_matching_follows_docker_rules():
    patterns = ["*", "!core/", "!models/", "**/__pycache__"]
    assert docker_context_includes("core/quantize/kmeans.py", patterns)
    assert not docker_context_includes("core/__pycache__/x.pyc", patterns)
    assert not docker_context_includes("tests/test_x.py", patterns)
    assert docker_context_includes("models/autoencoder.safetensors", patterns)
    assert not docker_context_includes("core/x.py", [*patterns, "core/x.py"])


def test_image_holds_the_app_and_its_trained_models_and_nothing_else():
    assert ("COPY", ". .") in dockerfile_instructions()
    patterns = dockerignore_patterns()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needed = [path for path in tracked if any(path == top or path.startswith(top + "/") for top in APP_PATHS)]
    assert any(path.endswith(".safetensors") for path in needed), "no trained model is tracked under models/"
    missing = [path for path in needed if not docker_context_includes(path, patterns)]
    assert not missing, f"the image would lack {missing}"
    shipped = [path for path in [*LEFT_OUT, *(p for p in tracked if p.endswith(".whl"))] if docker_context_includes(path, patterns)]
    assert not shipped, f"the image would carry {shipped}"


# --- HAProxy and the compose file ---------------------------------------------------------------------


def haproxy_lines() -> list[str]:
    return [line.split("#", 1)[0].strip() for line in HAPROXY_CONFIG.read_text().splitlines() if line.split("#", 1)[0].strip()]


def test_haproxy_pins_sessions_by_cookie_and_checks_streamlit_health():
    lines = haproxy_lines()
    [cookie] = [line for line in lines if line.startswith("cookie ")]
    assert cookie.split()[1] == AFFINITY_COOKIE and "insert" in cookie.split() and "indirect" in cookie.split()
    assert f"option httpchk GET {HEALTH}" in lines
    assert "option redispatch" in lines  # a reader pinned to a dead replica goes to a live one
    servers = [line.split() for line in lines if line.startswith("server ")]
    assert [server[1] for server in servers] == list(REPLICA_NAMES)
    for server in servers:  # each sets its own cookie value, and is health-checked (default-server check)
        assert server[server.index("cookie") + 1] == server[1]
    assert any(line.startswith("default-server check ") for line in lines)


def haproxy_environment_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+)-", HAPROXY_CONFIG.read_text()))


def test_compose_runs_the_image_twice_behind_haproxy_with_the_same_config():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {*REPLICA_NAMES, "balancer"}
    for name in REPLICA_NAMES:
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    balancer = services["balancer"]
    assert balancer["image"].startswith("haproxy:")
    source, target, mode = balancer["volumes"][0].split(":")
    assert (DEPLOY / source).resolve() == HAPROXY_CONFIG and mode == "ro"
    environment = balancer["environment"]
    assert set(environment) == haproxy_environment_variables()
    assert {environment[f"QE_{name.upper()}"] for name in REPLICA_NAMES} == {f"{name}:8501" for name in REPLICA_NAMES}
    published = {port.rsplit(":", 2)[-1] for port in balancer["ports"]}
    assert environment["QE_BIND"].split(":")[-1] in published


def test_haproxy_accepts_the_config():
    problem = haproxy_missing()
    if problem:
        pytest.skip(problem)
    environment = {**os.environ, **{name: "127.0.0.1:1" for name in haproxy_environment_variables()}}
    result = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CONFIG)], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Kubernetes ----------------------------------------------------------------------------------------


def manifests() -> dict[str, dict]:
    """{kind: resource} of every manifest under deploy/kubernetes (one resource per file)."""
    return {resource["kind"]: resource for path in MANIFESTS for resource in yaml.safe_load_all(path.read_text())}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_is_valid_against_the_kubernetes_schema(path, version):
    for resource in yaml.safe_load_all(path.read_text()):
        if resource["kind"] == "Kustomization":  # not a cluster resource; kustomize reads it
            assert all((path.parent / name).exists() for name in resource["resources"])
            continue
        kubernetes_validate.validate(resource, version, strict=True)


def test_schema_check_rejects_a_misspelt_field():
    deployment = manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity ("1536Mi", "3Gi") in MiB."""
    units = {"Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_pods_start_when_warm_are_probed_on_streamlit_health_and_request_resources():
    deployment = manifests()["Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert str(port) == dockerfile_env()["STREAMLIT_SERVER_PORT"]
    assert container["startupProbe"]["httpGet"] == {"path": WARMED, "port": "http"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH, "port": "http"}, probe
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"} and set(resources["limits"]) >= {"memory"}
    budget_mb = int({variable["name"]: variable["value"] for variable in container["env"]}[BUDGET_VARIABLE])
    needed_mib = WARM_SERVER_MIB + (budget_mb + UPLOAD_IN_FLIGHT_MB) * 10**6 / 2**20
    assert mebibytes(resources["requests"]["memory"]) >= needed_mib
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_service_ingress_and_autoscaler_point_at_the_deployment():
    found = manifests()
    labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert found["Service"]["spec"]["selector"].items() <= labels.items()
    [path] = found["Ingress"]["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"]["name"] == found["Service"]["metadata"]["name"]
    assert found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == found["Deployment"]["metadata"]["name"]
    assert found["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2  # one pod down never leaves nobody serving


def test_ingress_pins_each_reader_to_a_pod_by_cookie():
    annotations = manifests()["Ingress"]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "affinity"] == "cookie"
    assert annotations[prefix + "affinity-mode"] == "persistent"  # scaling up must not move live sessions
    assert annotations[prefix + "session-cookie-name"] == AFFINITY_COOKIE
    assert annotations[prefix + "session-cookie-change-on-failure"] == "true"
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 600  # the websocket outlives a pause in reading


# --- Two replicas behind HAProxy, in chromium -----------------------------------------------------------


@pytest.fixture
def cluster(chromium, tmp_path):
    problem = haproxy_missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the balancer tests need haproxy under CI: {problem}")
        pytest.skip(f"balancer tests skipped: {problem}")
    with Cluster.start(tmp_path) as running:
        yield running


def reader(chromium, cluster: Cluster, contexts: list) -> AppPage:
    """A new browser context (one reader, one Streamlit session) on the balancer's address."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ELEMENT_TIMEOUT_MS)
    contexts.append(context)
    return AppPage(context.new_page(), StreamlitServer(cluster.url, next(iter(cluster.logs.values()))))


def replica_of(page: AppPage) -> str:
    """The replica HAProxy pinned this reader to, from its affinity cookie."""
    return {cookie["name"]: cookie["value"] for cookie in page.page.context.cookies()}[AFFINITY_COOKIE]


@pytest.fixture
def contexts():
    opened = []
    yield opened
    for context in opened:
        context.close()


def upload_four_colors(page: AppPage, directory: Path) -> None:
    """On Shared colors, choose "your own image" and upload a 120×80 image of the four UPLOAD_COLORS."""
    pixels = np.zeros((80, 120, 3), dtype=np.uint8)
    pixels[:40, :60], pixels[:40, 60:], pixels[40:, :60], pixels[40:, 60:] = UPLOAD_COLORS
    path = directory / "four_colors.png"
    Image.fromarray(pixels).save(path)
    page.upload_image("Shared colors", path)


def palette_shown(page: AppPage) -> set[tuple[int, ...]]:
    """The colors of the palette swatches on Shared colors (their titles say 'index i: rgb(r, g, b), ...')."""
    titles = page.page.locator("[title^='index ']").evaluate_all("swatches => swatches.map(s => s.title)")
    return {tuple(map(int, re.search(r"rgb\((\d+), (\d+), (\d+)\)", title).groups())) for title in titles}


def move_k(page: AppPage) -> list[str]:
    """Move the "Number of shared colors k" slider one step left; the page's numbers after it changed."""
    before = page.numbers()
    slider = page.page.locator("[data-testid=stSlider]").filter(has_text="Number of shared colors k")
    page.press_slider(slider, "ArrowLeft")
    return page.wait_numbers_change(before)


def test_upload_through_the_balancer_returns_its_palette_and_both_replicas_serve(chromium, cluster, contexts, tmp_path):
    first, second = reader(chromium, cluster, contexts), reader(chromium, cluster, contexts)
    upload_four_colors(first, tmp_path)
    # The upload is a plain HTTP request to the replica that holds the session: without affinity it
    # could reach the other one, which knows nothing of the session, and the palette would never come.
    assert palette_shown(first) == set(UPLOAD_COLORS)
    assert first.errors() == []
    second.open("Shared colors")
    assert {replica_of(first), replica_of(second)} == set(REPLICA_NAMES)
    servers = cluster.servers()
    assert all(int(servers[name]["stot"]) > 0 for name in REPLICA_NAMES), servers
    for name, log in cluster.logs.items():
        assert "Traceback" not in log.read_text(), f"{name} logged an exception:\n{log.read_text()}"


def test_killing_a_replica_leaves_the_other_alone_and_its_readers_reconnect_on_reload(chromium, cluster, contexts, tmp_path):
    doomed_reader, other_reader = reader(chromium, cluster, contexts), reader(chromium, cluster, contexts)
    upload_four_colors(doomed_reader, tmp_path)
    other_reader.open("Shared colors")
    doomed, survivor = replica_of(doomed_reader), replica_of(other_reader)
    assert doomed != survivor

    cluster.kill(doomed)
    cluster.wait_for(lambda servers: servers[doomed]["status"].startswith("DOWN"), f"{doomed} DOWN", timeout=15)
    before = other_reader.numbers()
    assert move_k(other_reader) != before  # the other replica's reader goes on as if nothing happened
    assert other_reader.errors() == []

    doomed_reader.page.reload()
    doomed_reader.wait_idle()
    assert replica_of(doomed_reader) == survivor
    # A new session on the live replica: the upload lived in the dead one, so the default image is back.
    assert "four_colors.png" not in doomed_reader.shown_text()
    doomed_reader.open("Shared colors")
    before = doomed_reader.numbers()
    assert move_k(doomed_reader) != before
    assert doomed_reader.errors() == []

"""Issue 15, part B, on real engines: a container on two networks reached by its
aliases, env files and secret files whose values stay out of every place but the
container."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines
import pytest
from sv_helpers import Corral

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def no_secret_left(tmp_path: Path) -> Iterator[None]:
    """The tests' secret sources and env files do not outlive them."""
    yield
    for leftover in [*tmp_path.glob("*.pass"), *tmp_path.glob("*.env")]:
        leftover.unlink()


def unique(what: str) -> str:
    return f"optb-{what}-{uuid.uuid4().hex[:6]}"


#: Resolve a name through the engine's DNS (the static busybox's nslookup: its
#: getaddrinfo has no NSS), then fetch from that address (wget -T crashes it).
FETCH = (
    'a=$(nslookup "$1" 2>/dev/null | sed -n "1,/^Name:/d; s/^Address:* *//p" | head -n1); '
    '[ -n "$a" ] || exit 3; exec timeout 10 wget -q -O- "http://$a:8080/"'
)


def fetch(runtime: str, network: str, name: str) -> subprocess.CompletedProcess[str]:
    """What ``name``:8080 answers, asked from a throwaway container on ``network``."""
    image = engines.busybox_image(runtime)
    return subprocess.run(
        [runtime, "run", "--rm", "--network", network, image, "sh", "-c", FETCH, "-", name],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_container_on_two_networks_answers_its_aliases_on_each(
    corral: Corral, runtime: str
) -> None:
    front, back, server = unique("front"), unique("back"), unique("srv")
    image = engines.busybox_image(runtime)
    serve = (
        'command = ["sh", "-c", "mkdir /tmp/www && echo hello > /tmp/www/index.html && '
        'exec httpd -f -p 8080 -h /tmp/www"]\n'
    )
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[network]]\nname = "{front}"\n'
        f'[[network]]\nname = "{back}"\nsubnet = "10.231.41.0/24"\n'
        f'[[container]]\nprovision = "{server}"\nimage = "{image}"\nstop_timeout = 1\n'
        f'networks = [{{ name = "{front}", aliases = ["web-front"] }}, '
        f'{{ name = "{back}", aliases = ["web-back", "api"], ipv4_address = "10.231.41.10" }}]\n'
        f"{serve}"
        # the CLI path (extra_arguments) joins its later networks the same way
        f'[[container]]\nprovision = "{server}-cli"\nimage = "{image}"\nstop_timeout = 1\n'
        f'networks = ["{front}", {{ name = "{back}", aliases = ["cli-back"] }}]\n'
        'extra_arguments = ["--label", "path=cli"]\n'
        f"{serve}"
    )
    shown = json.loads(corral.run("show", "--json").stdout)
    view = next(v for v in shown if v["name"] == server)
    assert f"{runtime}-network-{front}" in view["requirement"]
    assert f"{runtime}-network-{back}" in view["requirement"]
    assert view["connect_argv"] == [
        [runtime, *view["argv"][1 : view["argv"].index("create")], "network", "connect",
         "--alias", "web-back", "--alias", "api", "--ip", "10.231.41.10", back, server]
    ]  # fmt: skip
    corral.run("up", timeout=120)
    assert corral.status()[server]["state"] == "running"
    found: dict[str, Any] = json.loads(
        subprocess.run(
            [runtime, "container", "inspect", server], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert set(found["NetworkSettings"]["Networks"]) == {front, back}
    # the address asked for on the network connected after create
    assert found["NetworkSettings"]["Networks"][back]["IPAddress"] == "10.231.41.10"
    cli = f"{server}-cli"
    for network, names in (
        (front, [server, "web-front", cli]),
        (back, [server, "web-back", "api", cli, "cli-back"]),
    ):
        for name in names:
            got = fetch(runtime, network, name)
            assert got.stdout == "hello\n", (network, name, got.stderr)
    # an alias is scoped to its network
    assert fetch(runtime, front, "web-back").returncode == 3
    corral.run("down", "--volumes", timeout=120)


def leaks(corral: Corral, runtime: str, name: str, values: list[str]) -> list[str]:
    """Where outside the container any of ``values`` shows: host ps, the engine's
    inspect (Args, Cmd, Labels; Env too for the ``secret`` values' caller),
    ``show --json``, ``status --json``, the daemon's log, the state directory."""
    found: list[str] = []
    data = json.loads(
        subprocess.run(
            [runtime, "container", "inspect", name], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    places: dict[str, str] = {
        "ps": subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True).stdout,
        "inspect Args": json.dumps(data.get("Args")),
        "inspect Cmd": json.dumps(data["Config"].get("Cmd")),
        "inspect Labels": json.dumps(data["Config"].get("Labels")),
        "show --json": corral.run("show", "--json").stdout,
        "status --json": corral.run("status", "--json").stdout,
        "command-line": corral.run("command-line", name).stdout,
    }
    for path in corral.state.rglob("*"):
        if path.is_file():
            places[f"state {path.name}"] = path.read_bytes().decode("utf-8", "replace")
    for place, text in places.items():
        found += [f"{place}: {v}" for v in values if v in text]
    return found


def config_hash_of(runtime: str, name: str) -> str:
    return subprocess.run(
        [runtime, "container", "inspect", "--format",
         '{{index .Config.Labels "corral.config-hash"}}', name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def env_of(runtime: str, name: str) -> dict[str, str]:
    data = json.loads(
        subprocess.run(
            [runtime, "container", "inspect", name], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    return dict(e.split("=", 1) for e in data["Config"]["Env"])


def test_env_files_values_reach_the_container_only(corral: Corral, runtime: str) -> None:
    app, cli = unique("env"), unique("envcli")
    image = engines.busybox_image(runtime)
    (corral.tmp / "app.env").write_text(
        "# the app's settings\nexport TOKEN='tok-7f3a9 $NOT'\nMODE=file\n"
        'SPACED="a  b" # comment\n'
    )
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{app}"\nimage = "{image}"\nstop_timeout = 1\n'
        'env_files = ["app.env"]\nenvironment = ["MODE=declared"]\n'
        'command = ["sleep", "600"]\n'
        # the CLI path (extra_arguments) reads the same values the same way
        f'[[container]]\nprovision = "{cli}"\nimage = "{image}"\nstop_timeout = 1\n'
        'env_files = ["./app.env"]\nextra_arguments = ["--label", "path=cli"]\n'
        'command = ["sleep", "600"]\n'
    )
    corral.run("check")
    corral.run("up", timeout=120)
    assert corral.status()[app]["state"] == "running"
    env = env_of(runtime, app)
    assert env["TOKEN"] == "tok-7f3a9 $NOT" and env["MODE"] == "declared"
    assert env["SPACED"] == "a  b"
    assert leaks(corral, runtime, app, ["tok-7f3a9"]) == []
    cli_env = env_of(runtime, cli)
    assert cli_env["TOKEN"] == env["TOKEN"] and cli_env["SPACED"] == "a  b"
    assert cli_env["MODE"] == "file"
    assert leaks(corral, runtime, cli, ["tok-7f3a9"]) == []
    first = config_hash_of(runtime, app)

    # the file's content is in the config hash (as a keyed digest)
    corral.run("restart", app, timeout=60)
    assert config_hash_of(runtime, app) == first
    (corral.tmp / "app.env").write_text("TOKEN=tok-new\n")
    corral.run("restart", app, timeout=60)
    assert config_hash_of(runtime, app) != first
    assert env_of(runtime, app)["TOKEN"] == "tok-new"
    corral.run("down", timeout=120)


def mounted_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as stream:
        return [p for line in stream if (p := line.split()[4]).startswith(path)]


def test_secret_files_reach_the_container_only(corral: Corral, runtime: str) -> None:
    app, other = unique("sec"), unique("other")
    image = engines.busybox_image(runtime)
    source = corral.tmp / "db.pass"
    source.write_text("pw-4c1e88")
    source.chmod(0o600)
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[container]]\nprovision = "{app}"\nimage = "{image}"\nstop_timeout = 1\n'
        'secrets = [{ source = "db.pass", target = "/run/secrets/db" },\n'
        '  { command = ["printf", "cmd-9b2d71"], target = "/etc/api.key", mode = "0440",'
        " uid = 1000, gid = 1001 }]\n"
        'command = ["sleep", "600"]\n'
        f'[[container]]\nprovision = "{other}"\nimage = "{image}"\nstop_timeout = 1\n'
        'command = ["sleep", "600"]\n'
    )
    corral.run("check")
    corral.run("up", timeout=120)
    assert corral.status()[app]["state"] == "running"

    def inside(*argv: str) -> str:
        return subprocess.run(
            [runtime, "exec", app, *argv], capture_output=True, text=True, check=True
        ).stdout

    assert inside("cat", "/run/secrets/db") == "pw-4c1e88"
    assert inside("cat", "/etc/api.key") == "cmd-9b2d71"
    assert inside("stat", "-c", "%a %u %g", "/run/secrets/db", "/etc/api.key").split("\n")[:2] == [
        "400 0 0", "440 1000 1001"
    ]  # fmt: skip
    assert "pw-4c1e88" not in json.dumps(env_of(runtime, app))
    secrets = [str(corral.tmp / "run" / "secrets")]
    assert mounted_under(secrets[0]) == secrets  # corral's own tmpfs
    assert leaks(corral, runtime, app, ["pw-4c1e88", "cmd-9b2d71"]) == []
    assert "pw-4c1e88" not in (corral.state / "daemon.log").read_text()

    # editing the secret file recreates exactly that container
    ids = {n: corral.status()[n]["container_id"] for n in (app, other)}
    source.write_text("pw-changed")
    plan = corral.run("plan").stdout
    assert f"restart {app}: changed the content of secrets[0]" in plan
    assert other not in plan
    corral.run("reload", timeout=120)
    assert corral.status()[app]["container_id"] != ids[app]
    assert corral.status()[other]["container_id"] == ids[other]
    assert inside("cat", "/run/secrets/db") == "pw-changed"
    assert (corral.tmp / "run" / "secrets" / app / "0").read_text() == "pw-changed"
    corral.run("stop", app, timeout=60)
    assert not (corral.tmp / "run" / "secrets" / app).exists()

    corral.run("down", timeout=120)
    assert mounted_under(secrets[0]) == []
    assert not (corral.tmp / "run" / "secrets").exists()

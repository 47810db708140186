"""Issue 15, part B, on real engines: a container on two networks reached by its
aliases, env files and secret files whose values stay out of every place but the
container."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import engines
import pytest
from sv_helpers import Corral

pytestmark = pytest.mark.engine


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
    corral.write(
        f'runtime = "{runtime}"\n'
        f'[[network]]\nname = "{front}"\n'
        f'[[network]]\nname = "{back}"\n'
        f'[[container]]\nprovision = "{server}"\nimage = "{image}"\nstop_timeout = 1\n'
        f'networks = [{{ name = "{front}", aliases = ["web-front"] }}, '
        f'{{ name = "{back}", aliases = ["web-back", "api"] }}]\n'
        'command = ["sh", "-c", "mkdir /tmp/www && echo hello > /tmp/www/index.html && '
        'exec httpd -f -p 8080 -h /tmp/www"]\n'
    )
    shown = json.loads(corral.run("show", "--json").stdout)
    view = next(v for v in shown if v["name"] == server)
    assert f"{runtime}-network-{front}" in view["requirement"]
    assert f"{runtime}-network-{back}" in view["requirement"]
    assert view["connect_argv"] == [
        [runtime, *view["argv"][1 : view["argv"].index("create")], "network", "connect",
         "--alias", "web-back", "--alias", "api", back, server]
    ]  # fmt: skip
    corral.run("up", timeout=120)
    assert corral.status()[server]["state"] == "running"
    found: dict[str, Any] = json.loads(
        subprocess.run(
            [runtime, "container", "inspect", server], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert set(found["NetworkSettings"]["Networks"]) == {front, back}
    for network, names in ((front, [server, "web-front"]), (back, [server, "web-back", "api"])):
        for name in names:
            got = fetch(runtime, network, name)
            assert got.stdout == "hello\n", (network, name, got.stderr)
    # an alias is scoped to its network
    assert fetch(runtime, front, "web-back").returncode == 3
    corral.run("down", "--volumes", timeout=120)

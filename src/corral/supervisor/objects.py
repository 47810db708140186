"""Networks and volumes as one-shot services, created before the containers
that name them (as newest upstream Guix does).

A network that drifted from its declaration is recreated when corral made it
(its containers are stopped first: they depend on it); one made by someone
else is left alone and the start fails, saying why. A volume is never deleted
to apply a change — it holds data — the start fails and says to run
``corral down --volumes``.
"""

from __future__ import annotations

from typing import Any

from corral.config import Network, Volume
from corral.errors import CorralError
from corral.render.commands import network_create_command, volume_create_command
from corral.render.identity import SERVICE_LABEL
from corral.runtimes import Runtime
from corral.supervisor.runner import Handle, RunContext, RunScope


def labelled(record: Network | Volume, service: str) -> Any:
    """``record`` with corral's service label, so corral knows what it made."""
    return record.model_copy(update={"labels": {**record.labels, SERVICE_LABEL: service}})


class NetworkRunner:
    def __init__(self, name: str, network: Network, runtime: Runtime, context: RunContext) -> None:
        self.name = name
        self.declared = network
        self.network: Network = labelled(network, name)
        self.runtime = runtime
        self.context = context

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        from corral.engine import networks

        engine = await self.context.engines.get(self.runtime)
        found = await networks.inspect_network(engine, self.network.name)
        if found is not None:
            drift = networks.network_drift(self.declared, found)
            if drift:
                if (found.get("Labels") or {}).get(SERVICE_LABEL) != self.name:
                    raise CorralError(
                        f"network {self.network.name} exists but differs from its declaration "
                        f"({'; '.join(map(str, drift))}) and corral did not create it"
                    )
                await networks.remove_network(engine, self.network.name)
                found = None
        if found is None:
            await networks.ensure_network(engine, self.network)
        return Handle(id=self.network.name)

    async def ready(self, handle: Handle) -> None:
        return None

    async def wait(self, handle: Handle) -> int | None:
        return 0

    async def stop(self, handle: Handle) -> int | None:
        return 0  # kept: only `corral down --volumes` deletes networks

    def describe(self, handle: Handle) -> str:
        return f"network {handle.id}"

    async def command_line(self) -> list[str]:
        engine = await self.context.engines.get(self.runtime)
        return network_create_command(self.network, self.runtime, engine.endpoint.cli)

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {}


class VolumeRunner:
    def __init__(self, name: str, volume: Volume, runtime: Runtime, context: RunContext) -> None:
        self.name = name
        self.declared = volume
        self.volume: Volume = labelled(volume, name)
        self.runtime = runtime
        self.context = context

    async def start(self, scope: RunScope, previous: Handle | None) -> Handle:
        from corral.engine import networks

        engine = await self.context.engines.get(self.runtime)
        drift = await networks.volume_drift_of(engine, self.declared)
        if drift is None:
            await networks.ensure_volume(engine, self.volume)
        elif drift:
            raise CorralError(
                f"volume {self.volume.name} differs from its declaration "
                f"({'; '.join(map(str, drift))}); corral never deletes a volume to "
                "change it: `corral down --volumes` removes it, then `corral up` recreates it"
            )
        return Handle(id=self.volume.name)

    async def ready(self, handle: Handle) -> None:
        return None

    async def wait(self, handle: Handle) -> int | None:
        return 0

    async def stop(self, handle: Handle) -> int | None:
        return 0  # kept: only `corral down --volumes` deletes volumes

    def describe(self, handle: Handle) -> str:
        return f"volume {handle.id}"

    async def command_line(self) -> list[str]:
        engine = await self.context.engines.get(self.runtime)
        return volume_create_command(self.volume, self.runtime, engine.endpoint.cli)

    def details(self, handle: Handle | None) -> dict[str, Any]:
        return {}

"""``corral export kubernetes``: per container a Deployment (a Job for a
one_shot), a Service when it publishes or exposes ports, a Secret with the key
names and empty values of what must stay secret, PersistentVolumeClaims for its
volumes. Pure.

One file per service (``NAME.yaml``, documents separated by ``---``), each
document preceded by the comments of what could not be said. Kubernetes has
one flat network: a service's networks, aliases and addresses are warnings;
the Service's DNS name is the service's name. Values Kubernetes would expand
(``$(NAME)`` in command, args and env) are escaped as ``$$(NAME)``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from corral.config import Config, Network, OciContainer, Volume
from corral.config.mounts import Mount
from corral.config.ports import PortMapping
from corral.config.run_options import parse_expose, parse_tmpfs
from corral.render.export._yaml import dump
from corral.render.export.model import (
    Exported,
    Row,
    Settings,
    Table,
    Unit,
    corral_built,
    extra_warnings,
    fill,
    hidden_names,
    host_environment_read,
    image_of,
    units,
)
from corral.render.spec import EnvFiles, Health, cpus_text

Doc = dict[str, Any]
TARGET = "kubernetes"
#: The image of the init container that waits for a required Service.
WAIT_IMAGE = "busybox:1.36"
PULL_POLICY = {"always": "Always", "newer": "Always", "never": "Never", "missing": "IfNotPresent"}


class Pod:
    """What a container's rows fill: its container, its pod's spec, the
    workload's metadata, and the other manifests it needs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.container: Doc = {"name": name}
        self.pod: Doc = {}
        self.annotations: Doc = {}
        self.volumes: list[Doc] = []
        self.claims: list[str] = []
        self.secret_keys: list[str] = []
        self.replicas = 1
        self.job = False
        self.restart = "OnFailure"
        self.backoff: int | None = None
        self.ports: list[Doc] = []
        self.comments: list[str] = []

    def security(self) -> Doc:
        context: Doc = self.container.setdefault("securityContext", {})
        return context

    def pod_security(self) -> Doc:
        context: Doc = self.pod.setdefault("securityContext", {})
        return context

    def mount(self, volume: Doc, path: str, read_only: bool = False, sub: str = "") -> None:
        if volume not in self.volumes:
            self.volumes.append(volume)
        entry: Doc = {"name": volume["name"], "mountPath": path}
        if sub:
            entry["subPath"] = sub
        if read_only:
            entry["readOnly"] = True
        self.container.setdefault("volumeMounts", []).append(entry)


def dns_name(text: str) -> str:
    """``text`` as a DNS-1123 label (Kubernetes' object names)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "x"


def k8s_escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$(", "$$(")
    if isinstance(value, list):
        return [k8s_escaped(v) for v in value]
    return value


def secret_name(unit: Unit) -> str:
    return f"{dns_name(unit.name)}-secrets"


def _set(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Callable[[Pod, Any, Unit], None]:
    def put(out: Pod, value: Any, unit: Unit) -> None:
        out.container[key] = convert(value)

    return put


def _pod(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Callable[[Pod, Any, Unit], None]:
    def put(out: Pod, value: Any, unit: Unit) -> None:
        out.pod[key] = convert(value)

    return put


def _image(out: Pod, value: Any, unit: Unit) -> None:
    out.container["image"] = image_of(unit)
    built = corral_built(unit)
    if built is not None and built.build is not None:
        unit.warn("Kubernetes does not build images: build and push it first", "image.build")
    elif built is not None and unit.settings.images.get(unit.name) is None:
        unit.note(
            f"corral builds {out.container['image']} itself: push it with `corral image push "
            f"{unit.name} --to REF` and export with --image {out.container['image']}=REF"
        )


def _pull(out: Pod, value: str, unit: Unit) -> None:
    out.container["imagePullPolicy"] = PULL_POLICY[value]


def _effective_pull(unit: Unit) -> Any:
    return unit.container.pull or unit.config.pull


def _env(out: Pod) -> list[Doc]:
    env: list[Doc] = out.container.setdefault("env", [])
    return env


def _secret_env(out: Pod, name: str, unit: Unit) -> None:
    if name not in out.secret_keys:
        out.secret_keys.append(name)
    _env(out).append(
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name(unit), "key": name}}}
    )


def _environment(out: Pod, value: Any, unit: Unit) -> None:
    for key, text in value:
        if text is None:
            _secret_env(out, key, unit)
        else:
            _env(out).append({"name": key, "value": k8s_escaped(text)})


def _host_environment(out: Pod, value: Any, unit: Unit) -> None:
    read, _ = host_environment_read(unit.container)
    declared = {k for k, t in (unit.spec.value("environment") or ()) if t is None}  # type: ignore[union-attr]
    for name in read:
        if name not in declared:
            _secret_env(out, name, unit)
    unread = [n for n in hidden_names(unit.container) if n not in read]
    if unread:
        unit.warn(f"{', '.join(unread)} reach only the engine CLI's environment, not the container")


def _env_files(out: Pod, value: EnvFiles, unit: Unit) -> None:
    name = f"{dns_name(unit.name)}-env"
    out.container["envFrom"] = [{"configMapRef": {"name": name}}]
    files = " ".join(f"--from-env-file={shlex.quote(p)}" for p in value.paths)
    out.comments.append(
        f"ConfigMap {name} holds the env files (their values are not written here): "
        f"kubectl create configmap {name} {files}"
    )


def _user(out: Pod, value: str, unit: Unit) -> None:
    user, _, group = value.partition(":")
    if not user.isdigit() or (group and not group.isdigit()):
        unit.warn(f"{value}: Kubernetes runs as numeric IDs only (runAsUser, runAsGroup)")
        return
    out.security()["runAsUser"] = int(user)
    if group:
        out.security()["runAsGroup"] = int(group)


def _ports(out: Pod, value: tuple[PortMapping, ...], unit: Unit) -> None:
    for mapping in value:
        if mapping.address:
            unit.warn(f"a Service listens on every address: {mapping.text} loses {mapping.address}")
        for host, port in mapping.bindings():
            if "-" in host:
                unit.warn(f"a Service port is one port: {mapping.text} (host range) is left out")
                continue
            published = int(host) if host else port
            _port(out, port, mapping.protocol, published)


def _port(out: Pod, port: int, protocol: str, published: int) -> None:
    proto = protocol.upper()
    ports: list[Doc] = out.container.setdefault("ports", [])
    if not any(p["containerPort"] == port and p["protocol"] == proto for p in ports):
        ports.append({"containerPort": port, "protocol": proto})
    out.ports.append(
        {
            "name": f"{protocol}-{published}",
            "port": published,
            "targetPort": port,
            "protocol": proto,
        }
    )


def _expose(out: Pod, value: Any, unit: Unit) -> None:
    for entry in value:
        low, high, protocol = parse_expose(entry)
        for port in range(low, high + 1):
            if not any(p["port"] == port and p["protocol"] == protocol.upper() for p in out.ports):
                _port(out, port, protocol, port)


def _volumes(out: Pod, value: tuple[Mount, ...], unit: Unit) -> None:
    for i, mount in enumerate(value):
        read_only = "ro" in mount.options.split(",")
        name = f"volume-{i}"
        if mount.source is None:
            out.mount({"name": name, "emptyDir": {}}, mount.target)
        elif "/" not in mount.source:
            claim = dns_name(mount.source)
            if claim not in out.claims:
                out.claims.append(claim)
            out.mount({"name": name, "persistentVolumeClaim": {"claimName": claim}}, mount.target,
                      read_only)  # fmt: skip
        elif unit.settings.pvc:
            claim = dns_name(f"{unit.name}-{mount.target}")  # the host path would make it per-host
            out.claims.append(claim)
            out.mount({"name": name, "persistentVolumeClaim": {"claimName": claim}}, mount.target,
                      read_only)  # fmt: skip
            unit.warn(f"{mount.source} is claim {claim}: copy the host's files into it")
        else:
            out.mount({"name": name, "hostPath": {"path": mount.source}}, mount.target, read_only)
            unit.warn(f"{mount.source} is a hostPath: the pod reads that node's files (--pvc)")


def _tmpfs(out: Pod, value: Any, unit: Unit) -> None:
    for i, entry in enumerate(value):
        path, options = parse_tmpfs(entry)
        empty: Doc = {"medium": "Memory"}
        for option in options.split(","):
            key, _, size = option.partition("=")
            if key == "size":
                empty["sizeLimit"] = size.upper().rstrip("B") + ("i" if size[-1:].isalpha() else "")
        out.mount({"name": f"tmpfs-{i}", "emptyDir": empty}, path)


def _shm(out: Pod, value: int, unit: Unit) -> None:
    out.mount({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": str(value)}},
              "/dev/shm")  # fmt: skip


def _secrets(out: Pod, value: Any, unit: Unit) -> None:
    for i, secret in enumerate(unit.container.secrets):
        key = f"file-{i}"
        out.secret_keys.append(key)
        volume = {
            "name": f"secret-{i}",
            "secret": {"secretName": secret_name(unit), "items": [{"key": key, "path": key}],
                       "defaultMode": int(secret.mode, 8)},
        }  # fmt: skip
        out.mount(volume, secret.target, read_only=True, sub=key)
        if secret.uid or secret.gid:
            unit.warn(f"secret {i} ({secret.target}): a Secret's files have no owner of their own")


def _requirement(out: Pod, value: tuple[str, ...], unit: Unit) -> None:
    containers = {name: unit.index.units[name] for name in unit.index.containers}
    waits: list[Doc] = []
    for name in value:
        required = containers.get(name)
        if required is None:
            unit.warn(f"{name} is not a container: Kubernetes cannot wait for it")
            continue
        port = _first_port(required)
        host = dns_name(name)
        if required.container.one_shot:
            unit.warn(f"{name} is a one_shot Job: the pod does not wait for it to complete")
            continue
        if port is None:
            unit.warn(f"{name} has no port: the init container waits for its DNS name only")
            script = f"until nslookup {host}; do sleep 1; done"
        else:
            script = f"until nc -z {host} {port}; do sleep 1; done"
        waits.append({"name": f"wait-{host}", "image": WAIT_IMAGE,
                      "command": ["sh", "-c", script]})  # fmt: skip
    if waits:
        out.pod["initContainers"] = waits


def _first_port(unit: Unit) -> int | None:
    for mapping in unit.spec.value("ports") or () if unit.spec else ():
        host, port = mapping.bindings()[0]
        return int(host) if host and "-" not in host else port
    for entry in unit.spec.value("expose") or () if unit.spec else ():
        return parse_expose(entry)[0]
    return None


def _probe(health: Health, unit: Unit) -> Doc:
    command = list(health.test[1:]) if health.exec_form else ["/bin/sh", "-c", health.test[1]]
    return {
        "exec": {"command": command},
        "periodSeconds": max(1, round(health.interval / 1e9)),
        "timeoutSeconds": max(1, round(health.timeout / 1e9)),
        "failureThreshold": health.retries,
        "initialDelaySeconds": round(health.start_period / 1e9),
    }


def _health(out: Pod, value: Health, unit: Unit) -> None:
    out.container["readinessProbe"] = _probe(value, unit)
    if unit.container.on_unhealthy == "restart":
        out.container["livenessProbe"] = _probe(value, unit)
    if value.start_interval is not None:
        unit.warn("Kubernetes probes have one period (a startupProbe could say it)",
                  "health_start_interval")  # fmt: skip


def _resource(section: str, key: str, convert: Callable[[Any], Any]
              ) -> Callable[[Pod, Any, Unit], None]:  # fmt: skip
    def put(out: Pod, value: Any, unit: Unit) -> None:
        out.container.setdefault("resources", {}).setdefault(section, {})[key] = convert(value)

    return put


def _capabilities(key: str) -> Callable[[Pod, Any, Unit], None]:
    def put(out: Pod, value: Any, unit: Unit) -> None:
        names = [c.removeprefix("CAP_") for c in value]
        out.security().setdefault("capabilities", {})[key] = names

    return put


def _security_opt(out: Pod, value: Any, unit: Unit) -> None:
    for option in value:
        if option in ("seccomp=unconfined", "seccomp:unconfined"):
            out.security()["seccompProfile"] = {"type": "Unconfined"}
        else:
            unit.warn(f"{option} has no securityContext equivalent")


def _group_add(out: Pod, value: Any, unit: Unit) -> None:
    numeric = [int(g) for g in value if g.isdigit()]
    named = [g for g in value if not g.isdigit()]
    if numeric:
        out.pod_security()["supplementalGroups"] = numeric
    if named:
        unit.warn(f"{', '.join(named)}: supplementalGroups are numeric GIDs")


def _sysctls(out: Pod, value: Any, unit: Unit) -> None:
    out.pod_security()["sysctls"] = [{"name": k, "value": str(v)} for k, v in value.items()]


def _dns(key: str, convert: Callable[[Any], Any]) -> Callable[[Pod, Any, Unit], None]:
    def put(out: Pod, value: Any, unit: Unit) -> None:
        out.pod.setdefault("dnsConfig", {})[key] = convert(value)
        if key == "nameservers":
            out.pod["dnsPolicy"] = "None"

    return put


def _extra_hosts(out: Pod, value: Any, unit: Unit) -> None:
    aliases: dict[str, list[str]] = {}
    for entry in value:
        host, _, address = entry.partition(":")
        if address == "host-gateway":
            unit.warn(f"{entry}: Kubernetes has no host-gateway address")
            continue
        aliases.setdefault(address, []).append(host)
    if aliases:
        out.pod["hostAliases"] = [{"ip": ip, "hostnames": names} for ip, names in aliases.items()]


def _platform(out: Pod, value: str, unit: Unit) -> None:
    parts = value.split("/")
    selector = {"kubernetes.io/os": parts[0]}
    if len(parts) > 1:
        selector["kubernetes.io/arch"] = parts[1]
    out.pod["nodeSelector"] = selector


def _respawn(out: Pod, value: Any, unit: Unit) -> None:
    if unit.container.one_shot:
        out.restart = "OnFailure"
        out.backoff = unit.container.respawn_limit.starts


def _no_respawn(unit: Unit) -> Any:
    container = unit.container
    return True if not container.respawn and not container.one_shot else None


def _one_shot(out: Pod, value: Any, unit: Unit) -> None:
    out.job = True
    if not unit.container.respawn:
        out.restart = "Never"
        out.backoff = 0


def _respawn_on(out: Pod, value: Any, unit: Unit) -> None:
    if not unit.container.one_shot:
        unit.warn("a Deployment's pod restarts after any exit (restartPolicy: Always)")


def _network(out: Pod, value: str, unit: Unit) -> None:
    unit.warn(f"Kubernetes has one flat network: {value} is not joined")


REASON_FLAT = "Kubernetes has one flat network; a Service's DNS name is the service's name"

#: Every ``[[container]]`` field.
TABLE: Table[Pod] = Table(
    TARGET,
    OciContainer,
    (
        Row(
            "provision",
            "the Deployment's, Service's and container's name (a DNS label)",
            lambda o, v, u: None,
        ),
        Row(
            "image",
            "`image:` (a corral-built image by `--image FROM=TO`)",
            _image,
            read=lambda u: True,
        ),
        Row(
            "pull",
            "`imagePullPolicy:` (`missing` → IfNotPresent, `always`/`newer` → Always, "
            "`never` → Never)",
            _pull,
            read=_effective_pull,
        ),
        Row("entrypoint", "`command: [ENTRYPOINT]`", _set("command", lambda v: k8s_escaped([v]))),
        Row("command", "`args:`", _set("args", lambda v: k8s_escaped(list(v)))),
        Row("container_user", "`securityContext.runAsUser`/`runAsGroup` (numeric)", _user),
        Row("workdir", "`workingDir:`", _set("workingDir")),
        Row("environment", "`env:` (a name without a value: from the Secret)", _environment),
        Row(
            "host_environment",
            "`env: valueFrom: secretKeyRef` of Secret NAME-secrets, whose "
            "keys have empty values (fill them; never written)",
            _host_environment,
        ),
        Row(
            "env_files",
            "`envFrom: configMapRef` NAME-env (a comment says how to create it from the files)",
            _env_files,
        ),
        Row("ports", "`ports:` and a Service (port = the host port)", _ports),
        Row("expose", "`ports:` and a Service", _expose),
        Row(
            "volumes",
            "named → PersistentVolumeClaim; bind → `hostPath` with a warning, or a "
            "claim with `--pvc`; anonymous → `emptyDir`",
            _volumes,
        ),
        Row("tmpfs", "`emptyDir: medium: Memory`", _tmpfs),
        Row("shm_size", "`/dev/shm` as `emptyDir: medium: Memory`", _shm),
        Row(
            "secrets",
            "Secret NAME-secrets (key names, empty values) mounted by `subPath`",
            _secrets,
            read=lambda u: u.container.secrets or None,
        ),
        Row(
            "health_cmd",
            '`readinessProbe: exec`, and `livenessProbe` when on_unhealthy = "restart"',
            _health,
        ),
        Row("health_interval", "`periodSeconds`", with_field="health_cmd"),
        Row("health_timeout", "`timeoutSeconds`", with_field="health_cmd"),
        Row("health_retries", "`failureThreshold`", with_field="health_cmd"),
        Row("health_start_period", "`initialDelaySeconds`", with_field="health_cmd"),
        Row("health_start_interval", "a warning (probes have one period)", with_field="health_cmd"),
        Row("on_unhealthy", '"restart": the `livenessProbe`', with_field="health_cmd"),
        Row("memory", "`resources.limits.memory`", _resource("limits", "memory", str)),
        Row(
            "memory_reservation",
            "`resources.requests.memory`",
            _resource("requests", "memory", str),
        ),
        Row("cpus", "`resources.limits.cpu`", _resource("limits", "cpu", cpus_text)),
        Row(
            "cpu_shares",
            "`resources.requests.cpu` (shares / 1024)",
            _resource("requests", "cpu", lambda v: f"{round(v * 1000 / 1024)}m"),
        ),
        Row("memory_swap", "a warning", reason="Kubernetes has no per-container swap limit"),
        Row("cpuset", "a warning", reason="CPU pinning is the kubelet's CPU manager policy"),
        Row("pids_limit", "a warning", reason="the pids limit is the kubelet's podPidsLimit"),
        Row("oom_score_adj", "a warning", reason="the kubelet sets the OOM score from the QoS"),
        Row("ulimits", "a warning", reason="Kubernetes has no ulimits"),
        Row("cap_add", "`securityContext.capabilities.add`", _capabilities("add")),
        Row("cap_drop", "`securityContext.capabilities.drop`", _capabilities("drop")),
        Row(
            "security_opt",
            "`seccomp=unconfined` → `seccompProfile: Unconfined`; others: a warning",
            _security_opt,
        ),
        Row(
            "no_new_privileges",
            "`securityContext.allowPrivilegeEscalation: false`",
            lambda o, v, u: o.security().__setitem__("allowPrivilegeEscalation", False),
        ),
        Row(
            "privileged",
            "`securityContext.privileged`",
            lambda o, v, u: o.security().__setitem__("privileged", True),
        ),
        Row(
            "read_only",
            "`securityContext.readOnlyRootFilesystem`",
            lambda o, v, u: o.security().__setitem__("readOnlyRootFilesystem", True),
        ),
        Row("group_add", "the pod's `supplementalGroups` (numeric)", _group_add),
        Row("sysctls", "the pod's `securityContext.sysctls`", _sysctls),
        Row("hostname", "the pod's `hostname:`", _pod("hostname", dns_name)),
        Row("dns", "`dnsConfig.nameservers`, `dnsPolicy: None`", _dns("nameservers", list)),
        Row("dns_search", "`dnsConfig.searches`", _dns("searches", list)),
        Row(
            "dns_options",
            "`dnsConfig.options`",
            _dns(
                "options",
                lambda v: [dict(zip(("name", "value"), o.split(":", 1), strict=False)) for o in v],
            ),
        ),
        Row("extra_hosts", "the pod's `hostAliases`", _extra_hosts),
        Row("platform", "`nodeSelector` kubernetes.io/os and /arch", _platform),
        Row("stdin_open", "`stdin: true`", _set("stdin", lambda v: True)),
        Row("tty", "`tty: true`", _set("tty", lambda v: True)),
        Row("labels", "the pod's annotations", lambda o, v, u: o.annotations.update(v)),
        Row(
            "stop_timeout", "`terminationGracePeriodSeconds`", _pod("terminationGracePeriodSeconds")
        ),
        Row("stop_signal", "a warning", reason="Kubernetes stops a container with SIGTERM"),
        Row(
            "requirement",
            "an init container waiting for the required Service's DNS name and port",
            _requirement,
        ),
        Row("one_shot", "a Job instead of a Deployment", _one_shot),
        Row(
            "respawn",
            "a Deployment restarts always; a one_shot Job `restartPolicy: OnFailure`, "
            "`backoffLimit` = respawn_limit's starts",
            _respawn,
        ),
        Row(
            "respawn_on",
            'a warning for a Deployment ("failure" is a Job\'s OnFailure)',
            _respawn_on,
        ),
        Row("respawn_limit", "a one_shot Job's `backoffLimit`", with_field="respawn"),
        Row("respawn_delay", "a warning", reason="Kubernetes backs off restarts by itself"),
        Row("auto_start", "`replicas: 0`", lambda o, v, u: setattr(o, "replicas", 0)),
        Row("network", "a warning", _network),
        Row("networks", "a warning", reason=REASON_FLAT),
        Row("network_aliases", "a warning", reason=REASON_FLAT),
        Row("mac_address", "a warning", reason="pods take their MAC from the network plugin"),
        Row("domainname", "a warning", reason="Kubernetes has no NIS domain name"),
        Row("init", "a warning", reason="no init process option (shareProcessNamespace differs)"),
        Row("devices", "a warning", reason="host devices need a device plugin"),
        Row("userns", "a warning", reason="user namespaces are the pod's `hostUsers` (1.30+)"),
        Row(
            "extra_arguments",
            "a warning (`--env NAME` is from the Secret)",
            lambda o, v, u: extra_warnings(u, TARGET),
        ),
        Row("log_file", "a warning", reason="Kubernetes keeps container logs itself"),
        Row("actions", "a warning", reason="declared actions are corral's own (`corral action`)"),
        Row("user", "a warning", reason="the host account of the engine CLI"),
        Row("group", "a warning", reason="the host group of the engine CLI"),
    ),
    title="a Deployment (or a Job), a Service, a Secret, PersistentVolumeClaims",
)

NETWORK_TABLE: Table[Pod] = Table(
    TARGET,
    Network,
    (
        Row("name", "a warning", reason="Kubernetes has one flat network: not created"),
        *(
            Row(name, "with the network", with_field="name")
            for name in Network.model_fields
            if name != "name"
        ),
    ),
    title="nothing (one flat network)",
)

VOLUME_TABLE: Table[Pod] = Table(
    TARGET,
    Volume,
    (
        Row("name", "a PersistentVolumeClaim of that name", lambda o, v, u: None),
        Row("driver", "a warning", reason="the cluster's storage class decides"),
        Row("labels", "the claim's labels", lambda o, v, u: None),
        Row("extra_arguments", "a warning", reason="free-form `volume create` flags"),
    ),
    title="a PersistentVolumeClaim",
)


def _metadata(name: str, settings: Settings, labels: Doc | None = None) -> Doc:
    meta: Doc = {"name": name}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "corral",
                      **(labels or {})}  # fmt: skip
    return meta


def _workload(unit: Unit, pod: Pod) -> Doc:
    name = pod.name
    selector = {"app.kubernetes.io/name": name}
    template_meta: Doc = {"labels": dict(selector)}
    if pod.annotations:
        template_meta["annotations"] = dict(pod.annotations)
    spec: Doc = {**pod.pod}
    init = spec.pop("initContainers", None)
    spec = {**({"initContainers": init} if init else {}), "containers": [pod.container], **spec}
    if pod.volumes:
        spec["volumes"] = pod.volumes
    if pod.job:
        spec["restartPolicy"] = pod.restart
        body: Doc = {"template": {"metadata": template_meta, "spec": spec}}
        if pod.backoff is not None:
            body = {"backoffLimit": pod.backoff, **body}
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": _metadata(name, unit.settings), "spec": body}  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, unit.settings),
        "spec": {
            "replicas": pod.replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def _service(unit: Unit, pod: Pod) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(pod.name, unit.settings),
        "spec": {"selector": {"app.kubernetes.io/name": pod.name}, "ports": pod.ports},
    }


def _secret(unit: Unit, pod: Pod) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(secret_name(unit), unit.settings),
        "type": "Opaque",
        "stringData": {key: "" for key in pod.secret_keys},
    }


def _claim(name: str, settings: Settings, labels: Doc | None = None) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(name, settings, labels),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def _documents(documents: list[tuple[list[str], Doc]]) -> str:
    parts = []
    for comments, document in documents:
        head = "".join(f"# {c}\n" for c in comments)
        body = dump(document)  # fmt: skip
        parts.append(head + body)
    return "---\n".join(parts)


def render(config: Config, settings: Settings) -> Exported:
    exported = Exported(TARGET)
    files: dict[str, str] = {}
    volume_labels = {v.name: dict(v.labels) for v in config.volumes}
    claims_written: set[str] = set()
    if settings.namespace:
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": settings.namespace}}  # fmt: skip
        files["namespace.yaml"] = _documents([([], namespace)])
    for unit in units(config, TARGET, settings):
        record = unit.record
        if isinstance(record, OciContainer):
            pod = fill(TABLE, Pod(dns_name(unit.name)), unit)
            if pod.name != unit.name:
                unit.note(f"{unit.name} is named {pod.name} (a DNS label)")
            _no_respawn_warning(unit)
            docs: list[tuple[list[str], Doc]] = []
            docs.append(([*unit.comments, *pod.comments], _workload(unit, pod)))
            if pod.ports:
                docs.append(([], _service(unit, pod)))
            if pod.secret_keys:
                docs.append(([_fill_secret(unit, pod)], _secret(unit, pod)))
            for claim in pod.claims:
                if claim not in claims_written:
                    claims_written.add(claim)
                    docs.append(([], _claim(claim, settings, volume_labels.get(claim))))
            files[f"{pod.name}.yaml"] = _documents(docs)
        elif isinstance(record, Volume):
            fill(VOLUME_TABLE, Pod(dns_name(record.name)), unit)
        elif isinstance(record, Network):
            fill(NETWORK_TABLE, Pod(dns_name(record.name)), unit)
        else:
            what = "a process" if unit.declared.kind == "process" else f"the {unit.declared.kind}"
            unit.warn(f"{what} service has no Kubernetes equivalent", unit.declared.kind)
        exported.warnings += unit.warnings
    exported.files = files
    return exported


def _fill_secret(unit: Unit, pod: Pod) -> str:
    """The comment that says how to fill the Secret: key names and file paths only."""
    sources = {f"file-{i}": s.source for i, s in enumerate(unit.container.secrets)}
    words = []
    for key in pod.secret_keys:
        if key in sources:
            words.append(f"--from-file={key}={shlex.quote(sources[key] or 'FILE')}")
        else:
            words.append(f"--from-literal={key}=VALUE")
    return (
        f"Fill in the values (never exported): kubectl create secret generic "
        f"{secret_name(unit)} {' '.join(words)} --dry-run=client -o yaml | kubectl apply -f -"
    )


def _no_respawn_warning(unit: Unit) -> None:
    if _no_respawn(unit):
        unit.warn("a Deployment's pod restarts always: corral would not respawn it", "respawn")


ALL_TABLES: tuple[Table[Pod], ...] = (TABLE, NETWORK_TABLE, VOLUME_TABLE)

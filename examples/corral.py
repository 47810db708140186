"""The demo of examples/corral.toml, written in Python: the same records."""

from corral import Action, Config, OciContainer, OciImage

APPLETS = ["sh", "httpd", "wget", "sleep", "date"]

demo_image = OciImage(
    repository="localhost/corral-demo",
    tag="1",
    programs=["/bin/busybox"],
    symlinks=[(f"/bin/{applet}", "/bin/busybox") for applet in APPLETS],
    files=[("www", "/www")],
    cmd=["/bin/sh"],
    env=["PATH=/bin"],
    labels={"org.opencontainers.image.title": "corral demo"},
)

config = Config(
    runtime="docker",
    containers=[
        OciContainer(
            provision="web",
            image=demo_image,
            command=["httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
            ports=["127.0.0.1:8080:8080"],
            environment=["MODE=demo", ("LANG", "C.UTF-8")],
            workdir="/www",
            container_user="65534",
            respawn=True,
            health_cmd="wget -q -O /dev/null http://127.0.0.1:8080/index.html",
            health_interval=1,
            health_timeout=2,
            stop_timeout=5,
            labels={"org.example.demo": "corral"},
            actions=[
                Action(
                    name="hits",
                    command=["sh", "-c", 'docker logs "$CORRAL_CONTAINER" 2>&1 | grep -c response: || true'],
                    documentation="How many requests web has answered.",
                )
            ],
        ),
        OciContainer(
            provision="poller",
            image="localhost/corral-demo:1",  # a string: the image web's record loaded
            requirement=["web"],
            command=[
                "sh",
                "-c",
                'while true; do wget -q -O /dev/null http://127.0.0.1:8080/ '
                '&& echo "$(date) web answered"; sleep 5; done',
            ],
            network="host",
            respawn=True,
            stop_timeout=2,
        ),
    ],
)

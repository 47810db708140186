"""``corral dashboard`` and ``corral daemon --http``: the status page's address.

``dashboard`` reads what the daemon wrote in its state directory: the page's
address (``web-url``, there while the page serves) and its token
(``web-token``, mode 0600): whoever can read the token may open the page.
"""

from __future__ import annotations

import os

import click
from pydantic import ValidationError

from corral.cli._app import Options, command, pass_options
from corral.config.http import Http, http_problems
from corral.errors import CorralError


def http_option(declared: Http | None, listen: str) -> Http:
    """``[http]`` with ``listen`` from ``--http`` (the rest as declared); the same
    rules as ``corral check``."""
    fields = declared.model_dump() if declared is not None else {}
    try:
        http = Http.model_validate({**fields, "listen": listen})
    except ValidationError as error:
        message = error.errors()[0]["msg"]
        raise CorralError(f"--http {listen}: {message}") from None
    problems = http_problems(http)
    if problems:
        raise CorralError(f"--http {listen}: {problems[0][1]}")
    return http


@command("dashboard")
@pass_options
def dashboard(options: Options) -> None:
    """The URL (with its token) of the daemon's live status page."""
    from corral.cli.service_commands import _socket
    from corral.control.client import answers
    from corral.paths import state_dir
    from corral.web.auth import TOKEN_FILE, URL_FILE

    if os.environ.get("CORRAL_STATE_DIR"):
        directory = state_dir(None)
    else:
        directory = state_dir(options.loaded().config.state_dir)
    if not answers(_socket(options)):
        raise CorralError(f"no corral daemon answers on {_socket(options)}")
    try:
        with open(os.path.join(directory, URL_FILE)) as file:
            url = file.read().strip()
    except FileNotFoundError:
        raise CorralError(
            "the daemon serves no status page: declare [http] (listen = "
            '"127.0.0.1:9847") or run `corral daemon --http ADDR`'
        ) from None
    try:
        with open(os.path.join(directory, TOKEN_FILE)) as file:
            token = file.read().strip()
    except PermissionError:
        raise CorralError(
            f"not allowed to read the page's token {os.path.join(directory, TOKEN_FILE)}"
        ) from None
    click.echo(f"{url}?token={token}")

"""The built-in actions every service has, named once (light: no heavy imports).

``corral action NAME ACTION`` runs one of these, or an action the service
declares; a declared action may not reuse these names. The supervisor
implements exactly these (``Supervisor.action``).
"""

from __future__ import annotations

#: Built-in action → what it does.
BUILTIN_ACTIONS: dict[str, str] = {
    "status": "the service's status, as JSON",
    "restart": "stop the service and start it again (with the dependents that ran)",
    "command-line": "the command line that starts the service (a container's create, exact)",
    "pull": "fetch a container's image anew from its registry (string images)",
}

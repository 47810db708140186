"""Pure rendering: records to a container spec, argv, API documents, service views
and export files. No I/O."""

from corral.render.container import create_argv, create_document, seed_argv
from corral.render.services import seed_service_argv, service_argv, service_view, show_services
from corral.render.spec import ContainerSpec, container_spec

__all__ = [
    "ContainerSpec",
    "container_spec",
    "create_argv",
    "create_document",
    "seed_argv",
    "seed_service_argv",
    "service_argv",
    "service_view",
    "show_services",
]

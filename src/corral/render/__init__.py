"""Pure rendering: records to argv, service views and export files. No I/O."""

from corral.render.commands import container_options, run_command
from corral.render.services import service_argv, service_view, show_services

__all__ = ["container_options", "run_command", "service_argv", "service_view", "show_services"]

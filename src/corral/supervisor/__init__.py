"""corral.supervisor."""

"""corral.image."""

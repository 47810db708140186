"""corral.control."""

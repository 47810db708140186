"""The live status page the daemon serves (imported only when it is enabled)."""

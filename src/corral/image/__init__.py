"""corral's reproducible image builder, and loading images into an engine.

``build_image`` turns an ``OciImage`` build spec into one archive that is both
a docker-archive and an OCI image layout; ``load_image`` loads (and tags) it
into Docker or Podman, streamed into their ``load`` without an archive file,
skipping the load when the engine already has it.
"""

from corral.image.build import BuildResult, build_image, prepare

__all__ = ["BuildResult", "build_image", "prepare"]

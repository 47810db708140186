"""corral's reproducible image builder (pure: it talks to no engine).

``build_image`` turns an ``OciImage`` build spec into one archive that is both
a docker-archive and an OCI image layout; ``digest_image`` learns the image ID
without writing anything, and its ``Digested.stream`` writes the same archive
to any file object. Loading it into an engine (streamed, without an archive
file, skipped when the engine already has it) is ``corral.engine.images``'s.
"""

from corral.image.build import BuildResult, build_image, prepare

__all__ = ["BuildResult", "build_image", "prepare"]

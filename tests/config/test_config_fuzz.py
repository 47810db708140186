"""Random TOML-shaped input never produces a traceback: only a config or a ConfigError."""

from __future__ import annotations

from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.config import load_text
from corral.config.docs import RECORDS
from corral.errors import ConfigError

VOCABULARY = sorted(
    {name for record in RECORDS for name in record.model_fields}
    | {"container", "process", "network", "volume", "docker", "containerd"}
)
keys = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=8))
scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["8080:80", "127.0.0.1:1:2", "docker", "podman", "SIGTERM", "a=b", "busybox"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=20,
)
container = st.dictionaries(st.sampled_from(VOCABULARY), values, max_size=6).map(
    lambda d: {"image": "busybox", **d}
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "runtime": st.one_of(st.sampled_from(["docker", "podman"]), values),
        "container": st.lists(container, max_size=3),
        "process": st.lists(st.dictionaries(keys, values, max_size=6), max_size=2),
        "docker": st.dictionaries(keys, values, max_size=4),
        "network": st.lists(st.dictionaries(keys, values, max_size=4), max_size=2),
    },
)


def check(text: str) -> None:
    try:
        load_text(text, "fuzz.toml")
    except ConfigError as error:
        for problem in error.problems:
            assert problem.file == "fuzz.toml"
            assert problem.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_structured_documents_never_raise(document: dict[str, Any]) -> None:
    check(tomli_w.dumps(document))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]{}=\"'#,.:\n abc123-_")), max_size=80))
def test_raw_text_never_raises(text: str) -> None:
    check(text)

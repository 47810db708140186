"""Env files read as Compose reads them (pure), and their content in the hash."""

from __future__ import annotations

import pytest

from corral.config import OciContainer
from corral.config.envfile import EnvFileError, parse_env
from corral.render.identity import config_hash


def test_compose_rules() -> None:
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "  SPACED = two words   # a comment\n"
        "export EXPORTED=1\n"
        "HASH=a#b\n"
        "SINGLE='lit $HOME \\n # kept'\n"
        'DOUBLE="tab\\there \\"q\\" \\\\ $HOME" # comment\n'
        'MULTI="one\n'
        'two"\n'
        "EMPTY=\n"
        "EQUALS=a=b\n"
    )
    assert parse_env(text) == [
        ("PLAIN", "value"),
        ("SPACED", "two words"),
        ("EXPORTED", "1"),
        ("HASH", "a#b"),
        ("SINGLE", "lit $HOME \\n # kept"),
        ("DOUBLE", 'tab\there "q" \\ $HOME'),
        ("MULTI", "one\ntwo"),
        ("EMPTY", ""),
        ("EQUALS", "a=b"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("A=1\nsecret\n", 2, "expected KEY=VALUE"),
        ("1A=secret\n", 1, "the key must be"),
        ("A='secret\n", 1, "never closed"),
        ('A="secret" tail\n', 1, "only a # comment"),
    ],
)
def test_bad_lines_name_the_line_not_the_value(text: str, line: int, words: str) -> None:
    with pytest.raises(EnvFileError) as caught:
        parse_env(text)
    assert caught.value.line == line and words in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_changed_file_content_changes_the_hash_through_a_keyed_digest_only() -> None:
    container = OciContainer(image="busybox", env_files=["/etc/app.env"])
    one = config_hash(container, "docker", None, b"k", {"env_files[0]": b"A=1\n"})
    two = config_hash(container, "docker", None, b"k", {"env_files[0]": b"A=2\n"})
    other_key = config_hash(container, "docker", None, b"j", {"env_files[0]": b"A=1\n"})
    assert len({one, two, other_key}) == 3
    assert one == config_hash(container, "docker", None, b"k", {"env_files[0]": b"A=1\n"})
    # without inputs, a hash is what it was before env files existed
    plain = OciContainer(image="busybox")
    assert config_hash(plain, "docker", None, b"k") == config_hash(plain, "docker", None, b"k", {})

""".dockerignore as moby reads it: moby/patternmatcher's own table of cases
(TestMatches, Apache-2.0), checked both ways moby matches (every ancestor, and
the parent's results carried down as a walk does), the file's syntax, and the
walk over a real directory (what a build sends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.image.dockerignore import Matcher, PatternError, context_files, read_patterns

WHEEL = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"

#: (pattern, path, excluded): moby's TestMatches, as it stands.
MOBY_CASES: list[tuple[str, str, bool]] = [
    ('**', 'file', True),
    ('**', 'file/', True),
    ('**/', 'file', True),
    ('**/', 'file/', True),
    ('**', '/', True),
    ('**/', '/', True),
    ('**', 'dir/file', True),
    ('**/', 'dir/file', True),
    ('**', 'dir/file/', True),
    ('**/', 'dir/file/', True),
    ('**/**', 'dir/file', True),
    ('**/**', 'dir/file/', True),
    ('dir/**', 'dir/file', True),
    ('dir/**', 'dir/file/', True),
    ('dir/**', 'dir/dir2/file', True),
    ('dir/**', 'dir/dir2/file/', True),
    ('**/dir', 'dir', True),
    ('**/dir', 'dir/file', True),
    ('**/dir2/*', 'dir/dir2/file', True),
    ('**/dir2/*', 'dir/dir2/file/', True),
    ('**/dir2/**', 'dir/dir2/dir3/file', True),
    ('**/dir2/**', 'dir/dir2/dir3/file/', True),
    ('**file', 'file', True),
    ('**file', 'dir/file', True),
    ('**/file', 'dir/file', True),
    ('**file', 'dir/dir/file', True),
    ('**/file', 'dir/dir/file', True),
    ('**/file*', 'dir/dir/file', True),
    ('**/file*', 'dir/dir/file.txt', True),
    ('**/file*txt', 'dir/dir/file.txt', True),
    ('**/file*.txt', 'dir/dir/file.txt', True),
    ('**/file*.txt*', 'dir/dir/file.txt', True),
    ('**/**/*.txt', 'dir/dir/file.txt', True),
    ('**/**/*.txt2', 'dir/dir/file.txt', False),
    ('**/*.txt', 'file.txt', True),
    ('**/**/*.txt', 'file.txt', True),
    ('a**/*.txt', 'a/file.txt', True),
    ('a**/*.txt', 'a/dir/file.txt', True),
    ('a**/*.txt', 'a/dir/dir/file.txt', True),
    ('a/*.txt', 'a/dir/file.txt', False),
    ('a/*.txt', 'a/file.txt', True),
    ('a/*.txt**', 'a/file.txt', True),
    ('a[b-d]e', 'ae', False),
    ('a[b-d]e', 'ace', True),
    ('a[b-d]e', 'aae', False),
    ('a[^b-d]e', 'aze', True),
    ('.*', '.foo', True),
    ('.*', 'foo', False),
    ('abc.def', 'abcdef', False),
    ('abc.def', 'abc.def', True),
    ('abc.def', 'abcZdef', False),
    ('abc?def', 'abcZdef', True),
    ('abc?def', 'abcdef', False),
    ('a\\\\', 'a\\', True),
    ('**/foo/bar', 'foo/bar', True),
    ('**/foo/bar', 'dir/foo/bar', True),
    ('**/foo/bar', 'dir/dir2/foo/bar', True),
    ('abc/**', 'abc', False),
    ('abc/**', 'abc/def', True),
    ('abc/**', 'abc/def/ghi', True),
    ('**/.foo', '.foo', True),
    ('**/.foo', 'bar.foo', False),
    ('a(b)c/def', 'a(b)c/def', True),
    ('a(b)c/def', 'a(b)c/xyz', False),
    ('a.|)$(}+{bc', 'a.|)$(}+{bc', True),
    (WHEEL, WHEEL, True),
    ('dist/*.whl', WHEEL, True),
    ('a\\*b', 'a*b', True),
]  # fmt: skip

#: (patterns, path, excluded): moby's multi-pattern cases.
MOBY_MULTI: list[tuple[list[str], str, bool]] = [
    (['**', '!util/docker/web'], 'util/docker/web/foo', False),
    (['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', True),
    (['**', '!' + WHEEL], WHEEL, False),
    (['**', '!dist/*.whl'], WHEEL, False),
]  # fmt: skip


def _walked(matcher: Matcher, path: str) -> bool:
    """``path`` matched as the walk does: each ancestor's results carried down."""
    parts = path.split("/")
    found = [False] * len(matcher.patterns)
    for k in range(1, len(parts)):
        _, found = matcher.excluded("/".join(parts[:k]), found)
    return matcher.excluded(path, found)[0]


@pytest.mark.parametrize(("pattern", "path", "excluded"), MOBY_CASES)
def test_moby_cases(pattern: str, path: str, excluded: bool) -> None:
    matcher = Matcher([pattern])
    assert matcher.excluded(path)[0] is excluded
    assert _walked(matcher, path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), MOBY_MULTI)
def test_moby_multi_pattern_cases(patterns: list[str], path: str, excluded: bool) -> None:
    matcher = Matcher(patterns)
    assert matcher.excluded(path)[0] is excluded
    assert _walked(matcher, path) is excluded


def test_moby_quirk_a_leading_double_star_is_a_suffix() -> None:
    """moby's suffix match: ``**foo`` is "ends with foo", so ``barfoo`` matches
    (docker-py's port says otherwise; the CLI is moby's)."""
    assert Matcher(["**foo"]).excluded("barfoo")[0]


def test_the_file_syntax() -> None:
    text = "\ufeff# a comment\n  /abs/path  \n\n! keep/me \n a/./b//c \n#!not an exception\n"
    assert read_patterns(text) == ["abs/path", "!keep/me", "a/b/c"]


def test_bad_patterns() -> None:
    with pytest.raises(PatternError, match="illegal exclusion"):
        Matcher(["!"])
    with pytest.raises(PatternError, match="not a valid pattern"):
        Matcher(["a[b"])


def test_the_walk_sends_what_docker_sends(tmp_path: Path) -> None:
    for path in (
        "Dockerfile",
        "app/main.py",
        "app/cache/x.pyc",
        "logs/a.log",
        "logs/keep.log",
        "docs/a.md",
        "docs/deep/b.md",
        "node_modules/m/index.js",
        "secret.env",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    (tmp_path / ".dockerignore").write_text(
        "**/*.pyc\nlogs\n!logs/keep.log\nnode_modules\n*.env\ndocs/**/*.md\nDockerfile\n"
        ".dockerignore\n"
    )
    assert context_files(str(tmp_path)) == [
        ".dockerignore", "Dockerfile", "app", "app/cache", "app/main.py", "docs", "docs/deep",
        "logs/keep.log",
    ]  # fmt: skip


def test_no_dockerignore_sends_everything(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert context_files(str(tmp_path)) == ["Dockerfile", "d", "d/f"]

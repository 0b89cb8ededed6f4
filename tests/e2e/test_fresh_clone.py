"""A fresh clone stands alone: nothing in it points outside it, and its tests find their data.

The clone is made from the committed tree into an empty folder, so nothing beside it (no sibling
checkout, no data folder next to it) can be what makes the tests pass.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Written in two pieces so that this file does not match the pattern it looks for.
OUTSIDE = "|".join((r"\.\./" + "shared", "DESIGN" + r"\.md"))
# The tests that read tests/data/conformance, one of each kind.
DATA_TESTS = (
    "tests/unit/domain/test_address.py",
    "tests/integration/providers/test_postmark.py",
    "tests/integration/providers/test_mailgun.py",
)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path_factory.mktemp("empty") / "postroom"
    made = subprocess.run(
        ["git", "clone", "-q", str(ROOT), str(target)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    assert not (target.parent / "shared").exists()
    return target


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter's pytest on the clone's tests, importing the clone's own source."""
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=clone,
        env=env,
        timeout=600,
    )


def test_nothing_refers_outside_the_repository(clone: Path) -> None:
    """No file of the clone names a folder beside the checkout or a design page it lacks."""
    found = subprocess.run(
        ["git", "grep", "-nE", OUTSIDE], capture_output=True, text=True, cwd=clone
    )
    assert found.stdout == "", found.stdout


def test_the_data_the_tests_read_is_in_the_clone_with_its_sources(clone: Path) -> None:
    """Every conformance file is in tests/data and named in its SOURCES.md."""
    data = clone / "tests" / "data" / "conformance"
    sources = (data / "SOURCES.md").read_text()
    files = sorted(p.relative_to(data) for p in data.rglob("*.json"))
    assert files
    for path in files:
        assert path.name in sources, f"{path} has no entry in SOURCES.md"


def test_the_whole_suite_collects_in_the_clone(clone: Path) -> None:
    """pytest collects every test of the clone without an error."""
    result = _pytest(clone, "--collect-only")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counted = re.search(r"(\d+) tests? collected", result.stdout)
    assert counted, result.stdout[-500:]
    assert int(counted.group(1)) > 1000


def test_the_tests_that_read_conformance_data_pass_in_the_clone(clone: Path) -> None:
    """The address and provider payload tests run on the clone's own copy of the data."""
    result = _pytest(clone, "-x", *DATA_TESTS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout)

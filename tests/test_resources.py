"""Shipped data is found from a source checkout and from a regular (wheel) install."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from auditor import resources

ROOT = Path(__file__).resolve().parent.parent


def test_a_source_checkout_uses_its_own_files() -> None:
    assert resources.PROJECT_DIR == ROOT
    assert resources.LOCAL_DIR == ROOT / ".local"
    assert (resources.POLICIES_DIR / "AUD-001-tenant-no-credential-columns.yaml").is_file()


def test_a_regular_install_uses_share_and_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site_packages = tmp_path / "lib" / "site-packages"  # no pyproject.toml, no policies/
    site_packages.mkdir(parents=True)
    monkeypatch.setattr(resources, "_SOURCE_DIR", site_packages)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = resources._data_dir()
    assert data == Path(sys.prefix) / "share" / "auditor"
    assert resources._local_dir(data) == tmp_path / "cache" / "auditor"


def test_every_shipped_file_is_declared_as_data() -> None:
    """A file added under policies/, schemas/ or examples/demo-iam/ must travel in the wheel."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    data_files = pyproject["tool"]["setuptools"]["data-files"]
    declared = {
        path.relative_to(ROOT)
        for patterns in data_files.values()
        for pattern in patterns
        for path in ROOT.glob(pattern)
        if path.is_file()
    }
    shipped = {
        path.relative_to(ROOT)
        for folder in ("policies", "schemas", "examples/demo-iam")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
    }
    assert shipped - declared == set()
    for target, patterns in data_files.items():
        for pattern in patterns:
            assert target == "share/auditor/" + str(Path(pattern).parent), (target, pattern)

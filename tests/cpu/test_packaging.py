"""The wheel carries every package and every file of configs/; the metadata has the promised dependencies."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    (path,) = out.glob("sglang_sm120_dsa-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_contains_all_packages_and_configs(wheel) -> None:
    names = set(wheel.namelist())
    package = ROOT / "sglang_sm120_dsa"
    for source in package.rglob("*.py"):
        assert f"sglang_sm120_dsa/{source.relative_to(package).as_posix()}" in names, source
    configs = [p for p in (ROOT / "configs").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert configs
    for config in configs:
        assert f"sglang_sm120_dsa/configs/{config.relative_to(ROOT / 'configs').as_posix()}" in names, config
    assert "sglang_sm120_dsa/py.typed" in names
    assert not any(n.startswith(("tests/", "scripts/")) for n in names)


def test_wheel_metadata(wheel) -> None:
    (meta_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    meta = wheel.read(meta_name).decode()
    assert "Name: sglang-sm120-dsa" in meta and "Requires-Python: >=3.10" in meta
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: torch<2.15,>=2.11") for r in requires), requires
    assert any(r.startswith("Requires-Dist: triton>=3.5") for r in requires), requires
    assert 'Requires-Dist: tilelang==0.1.15; extra == "tilelang"' in requires
    assert 'Requires-Dist: sglang==0.5.23; extra == "sglang"' in requires
    assert any(r.startswith("Requires-Dist: pytest") and 'extra == "test"' in r for r in requires)


def test_installed_package_sees_its_configs() -> None:
    from importlib import resources

    files = {p.name for p in resources.files("sglang_sm120_dsa.configs").iterdir()}
    assert "README.md" in files


def test_readme_documents_every_environment_variable() -> None:
    from sglang_sm120_dsa import envs

    readme = (ROOT / "README.md").read_text()
    for var in envs.ENV_VARS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{var.name}` |")), None)
        assert row is not None, f"README's environment table lacks {var.name}"
        assert f"| `{var.default}` |" in row, (var.name, var.default)
        assert all(f"`{c}`" in row for c in var.choices), (var.name, var.choices)

"""SGLang plugin tier: the plugin against the real SGLang 0.5.23, on a simulated GPU, each scenario in its own
process. (The folder is not called ``sglang``: on pytest's path it would shadow the real package.)

SGLang's own dependency list pulls a CUDA torch, so it is not a test extra: unless ``sglang==0.5.23`` already
imports here, the session installs it with the minimal CPU set of ``requirements-cpu.txt`` (``--no-deps``) into a
cache (``$SGLANG_SM120_DSA_TEST_CACHE``, default ``~/.cache/sglang-sm120-dsa``), once, showing pip's progress.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent
REQUIREMENTS = HERE / "requirements-cpu.txt"
STUBS = HERE / "stubs"
SGLANG = "0.5.23"


def _installed_sglang() -> str | None:
    try:
        return importlib.metadata.version("sglang")
    except importlib.metadata.PackageNotFoundError:
        return None


def _cached_site(say) -> pathlib.Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:10]
    root = pathlib.Path(os.environ.get("SGLANG_SM120_DSA_TEST_CACHE", pathlib.Path.home() / ".cache/sglang-sm120-dsa"))
    site = root / f"sglang-{SGLANG}-py{sys.version_info.major}{sys.version_info.minor}-{digest}"
    if (site / ".complete").exists():
        return site
    partial = site.with_name(site.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    say(f"installing SGLang {SGLANG} and its minimal CPU import set into {site} (once, ~500 MB)")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                             "--progress-bar", "off", "--target", str(partial), "-r", str(REQUIREMENTS)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        pytest.fail(f"could not install SGLang {SGLANG} for the plugin tests (pip exit {result.returncode}):\n"
                    f"{result.stdout[-3000:]}", pytrace=False)
    (partial / ".complete").touch()
    partial.rename(site)
    return site


@pytest.fixture(scope="session")
def sglang_path(pytestconfig) -> list[str]:
    """PYTHONPATH entries under which ``import sglang`` gives SGLang 0.5.23."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n[tests/plugin] {line}", flush=True)

    found = _installed_sglang()
    paths = [] if found == SGLANG else [str(_cached_site(say))]
    if importlib.util.find_spec("torchvision") is None:
        paths.append(str(STUBS))
    return paths


@pytest.fixture(scope="session")
def scenario(sglang_path):
    """``scenario(spec, **env) -> report``: run scenario.py in a fresh process; see its docstring."""

    @functools.cache
    def run(spec_json: str, env_items: tuple) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SGLANG_", "TRITON_INTERPRET"))}
        env.update(dict(env_items))
        env["PYTHONPATH"] = os.pathsep.join([*sglang_path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        result = subprocess.run([sys.executable, str(HERE / "scenario.py"), spec_json], env=env, text=True,
                                capture_output=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"scenario {spec_json} exited {result.returncode}:\n{result.stderr[-4000:]}", pytrace=False)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        report["log"] = result.stderr
        return report

    return lambda spec, **env: run(json.dumps(spec, sort_keys=True), tuple(sorted(env.items())))

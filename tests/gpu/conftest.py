"""GPU tier: every test here needs CUDA and is skipped without it."""

from __future__ import annotations

import pathlib

import pytest
import torch

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gpu)
            if not torch.cuda.is_available():
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


@pytest.fixture(scope="session")
def deep_gemm():
    """sgl-deep-gemm on a Hopper GPU (its SM90 kernels are the comparison target), else skip."""
    if torch.cuda.get_device_capability()[0] != 9:
        major, minor = torch.cuda.get_device_capability()
        pytest.skip(f"DeepGEMM comparisons run on SM90; this is sm_{major}{minor}")
    try:
        import deep_gemm
    except Exception as e:  # ImportError, or a _C.so built for another torch
        pytest.skip(f"deep_gemm not importable: {type(e).__name__}: {e}")
    return deep_gemm


@pytest.fixture
def reference_family(family):
    """For tests about the PyTorch reference: on a GPU ``auto`` would pick a kernel family."""
    family("torch")

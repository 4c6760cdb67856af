"""Import-only stand-in for sgl_kernel (sglang-kernel 0.4.10), for the GPU test of the plugin only.

SGLang 0.5.23 needs torch 2.14.1 and sglang-kernel 0.4.10, built for it; neither loads on the lent GPU machines'
torch 2.11, yet ``dsa_indexer``, ``dsa_backend`` and ``model_runner`` import sgl_kernel names at load time on a
CUDA machine. Here every ``sgl_kernel`` name and submodule imports, and every call raises: nothing on the path the
test checks (SGLang's indexer entry points, DeepGEMM, SGLang's Triton act_quant) may use it.
"""

import importlib.abc
import importlib.machinery
import sys
import types

__version__ = "0.0.0+import-only-stub"


class Missing:
    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name}: sgl_kernel is an import-only stub in this test (sglang-kernel 0.4.10 "
                           f"does not load with this torch)")

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Missing(f"{self._name}.{attr}")


def _module_getattr(prefix: str):
    def __getattr__(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Missing(f"{prefix}.{attr}")

    return __getattr__


class _Submodules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.startswith(__name__ + "."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name, "import-only stub")
        module.__path__ = []
        module.__getattr__ = _module_getattr(spec.name)
        return module

    def exec_module(self, module) -> None:
        pass


__getattr__ = _module_getattr(__name__)
if not any(isinstance(f, _Submodules) for f in sys.meta_path):
    sys.meta_path.insert(0, _Submodules())

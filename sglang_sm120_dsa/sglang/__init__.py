"""SGLang plugin: ``--attention-backend dsa_fallback`` runs DeepSeek-V3.2, GLM-5 and DeepSeek-V4 with this
package's indexer kernels.

SGLang calls :func:`register` (entry point ``dsa_fallback`` in group ``sglang.srt.plugins``) in every process it
starts. ``dsa_fallback`` is a switch, not a new backend: argument resolution turns it into SGLang's own ``dsa``
(or keeps ``dsv4``), picks sparse-attention backends that run on the GPU, switches off SGLang's own indexer
fallbacks, and sets ``SGLANG_SM120_DSA_SGLANG=on``; the scheduler processes inherit that and route every indexer
call to :mod:`sglang_sm120_dsa` (:mod:`.routing`). Only SGLang |version| is supported: with another version,
``dsa_fallback`` stops at startup and nothing is patched.
"""

from __future__ import annotations

import importlib.metadata
import logging

from .. import envs

__all__ = ["BACKEND", "SUPPORTED_SGLANG", "register"]

logger = logging.getLogger("sglang_sm120_dsa.sglang")

BACKEND = "dsa_fallback"
SUPPORTED_SGLANG = "0.5.23"
__doc__ = __doc__.replace("|version|", SUPPORTED_SGLANG)

def sglang_version() -> str:
    return importlib.metadata.version("sglang")


def register() -> None:
    """Entry point: cheap (no GPU, no kernel import), idempotent (every step is), and never raises into SGLang."""
    try:
        version = sglang_version()
        _add_choice()
        from . import resolution

        if version != SUPPORTED_SGLANG:
            resolution.install_version_guard()
            logger.warning("sglang-sm120-dsa: SGLang %s is installed, the plugin supports %s only; "
                           "--attention-backend %s is disabled", version, SUPPORTED_SGLANG, BACKEND)
        else:
            resolution.install()
            if envs.SGLANG.get() == "on":
                from . import routing

                routing.activate()
    except Exception:  # SGLang would only log it; say what it means
        logger.exception("sglang-sm120-dsa: the %s plugin failed to register; --attention-backend %s will not work",
                         BACKEND, BACKEND)


def _add_choice() -> None:
    from sglang.srt.arg_groups.choices import ATTENTION_BACKEND_CHOICES
    from sglang.srt.arg_groups.choices import add_attention_backend_choices

    if BACKEND not in ATTENTION_BACKEND_CHOICES:
        add_attention_backend_choices([BACKEND])

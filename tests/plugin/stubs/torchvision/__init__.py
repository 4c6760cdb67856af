"""Import-only stand-in for torchvision, which has no CPU build: SGLang's and transformers' modules import it at
load time. Names that are only called (never at import) raise NotImplementedError when used."""

__version__ = "0.0.0+stub"

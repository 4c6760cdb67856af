def missing(module: str):
    """A module ``__getattr__`` that hands out functions raising NotImplementedError."""

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def unavailable(*args, **kwargs):
            raise NotImplementedError(f"{module}.{name}: torchvision stub for CPU tests, import only")

        unavailable.__name__ = name
        return unavailable

    return __getattr__

"""TileLang kernel builders: each returns a ``T.prim_func`` for one variant (the constexpr arguments)."""

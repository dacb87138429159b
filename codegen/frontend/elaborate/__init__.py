"""Elaboration: syntax tree -> IR. `elaborator` walks the files (imports, parameters,
formats, regimes, nested compositions) and hands each decision unit to `unit`; both
resolve names through the Module and Scope of `scope`."""
from codegen.frontend.elaborate.elaborator import (  # noqa: F401
    Elaborator,
    flatten,
    import_root,
    spec_digest,
)
from codegen.frontend.elaborate.scope import MAX_LOADED_TOKENS, MAX_WIDTH  # noqa: F401

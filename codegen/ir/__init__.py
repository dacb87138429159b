"""The IR: the elaborated, validated model of a spec (nodes), its expressions and source spans.

Depends on nothing else in codegen: every stage reads it, none is read by it.
"""
from codegen.ir.nodes import *  # noqa: F401,F403 - `ir.Spec`, `ir.Regime`, ... are the public names
from codegen.ir.nodes import GENERATOR_VERSION  # noqa: F401

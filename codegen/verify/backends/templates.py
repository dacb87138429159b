"""Render a batch testbench template (beside this module) for a model's ports."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from codegen.verify import batch

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, ports: batch.Ports, top: str, **extra) -> str:
    return _env().get_template(template).render(
        top=top, data_width=ports.data_width, sized=ports.sized, rerr=ports.rerr,
        inputs=[{"name": n, "width": w, "bit": n in ports.bits} for n, w in ports.inputs],
        outputs=[{"name": n, "width": w, "bit": n in ports.bits} for n, w in ports.outputs], **extra)

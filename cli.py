"""Thin entry point: `python cli.py ...` is the same as the `virtspec` command."""
import sys

from codegen.cli import main

if __name__ == "__main__":
    sys.exit(main())

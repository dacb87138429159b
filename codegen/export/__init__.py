"""Exports: packages virtspec writes for use without virtspec (a cocotb testbench)."""

"""Tuning tables, installed as ``sglang_sm120_dsa.configs`` (see README.md here); read with importlib.resources."""

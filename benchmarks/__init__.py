"""Benchmarks: each measures a part of Streetwatch beside a same-run baseline (docs/benchmarks.md).

Run them as ``streetwatch bench NAME`` (or ``python -m benchmarks.MODULE``). They may import any
package; no production package imports them (an import-linter contract in pyproject.toml).
"""

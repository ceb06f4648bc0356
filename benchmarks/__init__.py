"""The benchmark suite: `python -m benchmarks [--quick] [--db ...] [--only B1,B2] [--json out]`.

B1 availability, B2 booking, B3 dispatch, B4 memory (measured inside B1 and B3), B5 reports.
README "Performance" and benchmarks/RESULTS.md describe the figures and their goals.
"""

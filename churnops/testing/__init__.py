"""Test infrastructure shared by tests/ and benchmarks/ (not used at run time)."""

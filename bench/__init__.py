"""DentalTap benchmarks (issue 2). Run them with `.venv/bin/python bench/run.py`; the measured
figures and the method are in docs/benchmarks.md."""

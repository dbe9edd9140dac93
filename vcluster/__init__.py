"""The front: the `vcluster` command, headless runs, benchmarks, control socket and console."""
__version__ = "0.1.0"

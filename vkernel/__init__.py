"""The V kernel, written in Python: one per workstation, driving the hardware through narrow APIs."""

"""What runs on the 68010: the guest ABI, runtime and program sources, and the built images."""

"""The hardware: 68010 CPU (Unicorn), Sun-2-style MMU, devices, workstations; knows nothing of V."""

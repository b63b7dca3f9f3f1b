"""The core: plain data and pure functions, no I/O and no framework."""

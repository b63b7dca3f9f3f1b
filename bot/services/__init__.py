"""Use cases of DESIGN.md §2, depending only on the ports."""

"""Plan store and audit log adapters."""

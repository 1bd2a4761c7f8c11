"""The vector index port and its adapters."""

"""The generator port and its adapters."""

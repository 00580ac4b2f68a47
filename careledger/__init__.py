"""CareLedger: an event-sourced care-coordination platform for a network of clinics."""

__version__ = "0.1.0"

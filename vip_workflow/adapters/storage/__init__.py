"""Storage adapters for process instances (the ``InstanceStore`` port)."""

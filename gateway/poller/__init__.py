"""The Modbus side of the gateway: the ``poller`` reads every registered Modbus device at its own
interval into the intake's journal; ``probe`` reads one device once for commissioning."""

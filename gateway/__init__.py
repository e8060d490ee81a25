"""The gateway composes every other package into the running service and the ``streetwatch`` CLI.

Nothing imports the gateway.
"""

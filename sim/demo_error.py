"""DemoError: a demo that cannot start, said in one line (the message) and exit 2.

Its own file because both the demo's assembly (sim/demo.py) and the exchange demo's
choices (sim/demo_exchange.py) raise it, and the second is imported by the first.
"""


class DemoError(RuntimeError):
    """A demo option is wrong; the message is the one line shown."""

"""Remote ``shutdown`` (docs/protocol.md 5.8): CPython obeys any client; mpcluster refuses
it unless started with ``--allow-remote-shutdown`` (a deliberate difference,
docs/protocol.md 14). Runs last: CPython's server is gone afterwards."""

SCENARIOS = [
    ("shutdown", [
        "control('shutdown', 1)",
        "raw_control((None, 'shutdown', (), {}))",
        "time.sleep(0.3); control('dummy')",
    ]),
]

"""The scenarios of the differential runner, in run order.

Each module lists ``SCENARIOS = [(name, [step, ...]), ...]``; a step is a
string of Python run in the scenario's namespace (see ``client.py``). The
``shutdown`` scenario stops CPython's server, so it always runs last.
"""

from collections import OrderedDict

from . import (  # noqa: F401  (imported for their SCENARIOS)
    control,
    dicts,
    lists,
    named,
    queues,
    raw,
    shutdown,
    sync,
    values,
)

_MODULES = (control, lists, dicts, values, queues, sync, named, raw, shutdown)

SCENARIOS = OrderedDict()
for _module in _MODULES:
    for _name, _steps in _module.SCENARIOS:
        if _name in SCENARIOS:
            raise ValueError("duplicate scenario name %r" % _name)
        SCENARIOS[_name] = list(_steps)

# Scenarios that must come after all others (they stop the server).
LAST = ("shutdown",)


def ordered(names):
    """``names`` in run order, the server-stopping ones last."""
    known = list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise KeyError("unknown scenario(s): %s (known: %s)" % (", ".join(unknown), ", ".join(known)))
    chosen = [n for n in known if n in names]
    return [n for n in chosen if n not in LAST] + [n for n in chosen if n in LAST]

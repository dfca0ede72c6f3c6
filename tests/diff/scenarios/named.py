"""The docs' remote-manager pattern (docs/protocol.md 10): a ``BaseManager`` client that
registers ``get_queue``/``get_dict`` without callables gets the server's one
shared Queue and dict through AutoProxy; same id on every call, the object
survives when every proxy is gone, SyncManager typeids stay available."""

SCENARIOS = [
    ("named", [
        "n0 = nobj()",
        "qq = qm.get_queue()",
        "type(qq).__name__",
        "sorted(qq._exposed_)",
        "nobj() - n0",
        "qq.put('hello'); qq.qsize()",
        "qq2 = qm.get_queue(); qq2._token.id == qq._token.id, nobj() - n0",
        "debug_entry(qq2)",
        "qq2.get()",
        "qq.get(timeout=0.05)",
        "qq.put({'job': 1}); qq.put([2])",
        "del qq, qq2; nobj() - n0",
        "qq3 = qm.get_queue(); qq3.qsize(), qq3.get(), qq3.get()",
        "qq3.task_done(); qq3.task_done(); qq3.task_done()",
        "qq3.task_done()",
        "gd = qm.get_dict()",
        "type(gd).__name__",
        "sorted(gd._exposed_)",
        "gd.update(a=1, b=[2])",
        "gd.get('a'), gd.keys(), gd.items(), gd.values()",
        "gd2 = qm.get_dict(); gd2.get('b'), gd2._token.id == gd._token.id",
        "gd.setdefault('c', 3), gd.pop('a'), gd.copy()",
        "gd.popitem(), str(gd)",
        "gd._callmethod('__getitem__', ('b',))",
        "gd._callmethod('__len__')",
        "gd.get()",
        "gd.pop('zz')",
        "del gd, gd2; gd3 = qm.get_dict(); gd3.copy()",
        "gd3.clear()",
        "qm.get_queue(1)",
        "qm.get_dict(x=1)",
        "nq = m.Queue(); nq.put(1); qm.get_queue().qsize()",
        "r = control('create', 'get_queue', 1); control('decref', r[0]); r",
        "del qq3, gd3, nq; nobj() - n0",
    ]),
]

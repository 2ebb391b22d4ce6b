"""moto with per-request wall/CPU time per operation (and cProfile with PROF=1), dumped on SIGTERM/SIGUSR1
to MOTO_STATS (default .gatehouse/bench/moto_stats.txt). Use: GATEHOUSE_BENCH_MOTO=infra/bench/moto_profile.py."""
import sys, time, threading, cProfile, pstats, io, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "local"))
import moto_server  # noqa: F401  (imported for its patches: atomic transactions)
from moto import server
from moto.server import DomainDispatcherApplication
orig = DomainDispatcherApplication.__call__
stats = []
lock = threading.Lock()
prof_on = os.environ.get("PROF") == "1"
profs = []
def call(self, environ, start_response):
    t = environ.get("HTTP_X_AMZ_TARGET", "") or environ.get("PATH_INFO")
    t0 = time.perf_counter(); c0 = time.thread_time()
    p = None
    if prof_on:
        p = cProfile.Profile(); p.enable()
    try:
        return orig(self, environ, start_response)
    finally:
        if p: p.disable(); 
        with lock:
            stats.append((t, time.perf_counter()-t0, time.thread_time()-c0))
            if p: profs.append(p)
DomainDispatcherApplication.__call__ = call
def dump(*a):
    import collections
    d = collections.defaultdict(list)
    for t, w, c in stats: d[t.split(".")[-1]].append((w, c))
    with open(os.environ.get("MOTO_STATS", ".gatehouse/bench/moto_stats.txt"), "w") as f:
        for k, v in sorted(d.items(), key=lambda kv: -len(kv[1])):
            ws = sorted(x[0] for x in v); cs = sorted(x[1] for x in v)
            f.write(f"{k:40s} n={len(v):5d} wall med {ws[len(ws)//2]*1000:.1f} ms cpu med {cs[len(cs)//2]*1000:.1f} ms cpu tot {sum(cs):.2f}s\n")
        if profs:
            s = io.StringIO(); ps = pstats.Stats(profs[0], stream=s)
            for p in profs[1:]: ps.add(p)
            ps.sort_stats("cumulative").print_stats(60); f.write(s.getvalue())
    os._exit(0)
import signal
signal.signal(signal.SIGUSR1, lambda *a: dump())
sys.argv = ["moto_server"] + sys.argv[1:]
server.signal_handler = lambda *a: dump()
server.main()

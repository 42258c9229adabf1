"""bench.memory --probe: what holds the server's memory, asked from inside the server.

Python imports this file at start-up in every process whose PYTHONPATH starts with this folder. In the
first such process (the server; its spawned workers inherit the environment and are skipped), SIGUSR1
appends one JSON line to the file PROBE_VARIABLE names: the RSS, the process budget's bytes and entries,
how many uploaded images are alive, Streamlit's sessions (active, stored for reconnection, and AppSession
objects still alive) and the bytes of Streamlit's own caches (uploaded files, media files, st.cache_*),
by category.
"""

import os

PROBE_VARIABLE = "QUANTIZATION_EXPLORER_MEMORY_PROBE"
_ARMED = "QUANTIZATION_EXPLORER_MEMORY_PROBE_ARMED"


def _report(signum: int, frame: object) -> None:
    import gc
    import json
    import sys
    from collections import Counter

    objects = gc.get_objects()
    status = dict(line.split(":", 1) for line in open(f"/proc/{os.getpid()}/status") if ":" in line)
    line = {"rss_mib": int(status["VmRSS"].split()[0]) / 1024}
    content_cache, image_choice = sys.modules.get("core.content_cache"), sys.modules.get("ui.image_choice")
    if content_cache is not None:
        line |= {"budget_mb": content_cache.PROCESS_BUDGET.used_bytes / 1e6, "budget_entries": len(content_cache.PROCESS_BUDGET)}
    if image_choice is not None:
        line["uploads_alive"] = sum(isinstance(o, image_choice.ChosenImage) and o.uploaded for o in objects)
    from streamlit.runtime import Runtime

    runtime = Runtime.instance()
    manager = runtime._session_mgr  # no public count of stored sessions
    line |= {
        "sessions_active": len(manager.list_active_sessions()),
        "sessions_stored": len(manager.list_sessions()) - len(manager.list_active_sessions()),
        "app_sessions_alive": sum(type(o).__name__ == "AppSession" for o in objects),
    }
    cached = Counter()
    for stats in runtime.stats_mgr.get_stats().values():
        for stat in stats:
            if hasattr(stat, "category_name"):
                cached[stat.category_name] += stat.byte_length / 1e6
    line["streamlit_caches_mb"] = dict(cached)
    with open(os.environ[PROBE_VARIABLE], "a") as out:
        out.write(json.dumps(line) + "\n")


if os.environ.get(PROBE_VARIABLE) and not os.environ.get(_ARMED):
    import signal

    os.environ[_ARMED] = "1"
    signal.signal(signal.SIGUSR1, _report)

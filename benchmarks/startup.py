"""Start-up cost of one app in a fresh process: import + create (1,000 routes), then one
in-process request to ``/r0999/1`` (frameworks that compile routes lazily do it there).

    python benchmarks/startup.py qiao_wsgi    # prints one JSON object

Times are from the first line of this script (interpreter start-up excluded; run.py also
times the whole process); memory is VmRSS from /proc/self/status and ru_maxrss.
"""

import time

_T0 = time.perf_counter()

import resource  # noqa: E402
import sys  # noqa: E402


def _vmrss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    module = sys.argv[1]
    result: dict[str, object] = {"module": module}
    if module != "python":
        from harness import load_app, wsgi_caller

        rss_before = _vmrss_kib()
        t1 = time.perf_counter()
        app = load_app(module)
        t2 = time.perf_counter()
        status, body = wsgi_caller(app, "/r0999/1")()
        t3 = time.perf_counter()
        result.update(
            import_create_s=t2 - t1,
            first_request_s=t3 - t2,
            total_s=t3 - _T0,
            rss_harness_kib=rss_before,
            status=status,
            body=body.decode(errors="replace"),
        )
    result["rss_kib"] = _vmrss_kib()
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    import json

    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Resident memory of this process, shared by the benchmarks."""


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")

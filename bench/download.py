"""Download memory benchmark: a 1 GB output streamed from the sandbox by the real client.

    python bench/download.py [SIZE_MB]      (default 1024)
Prints the client's peak resident memory and the throughput. Target: peak under 100 MB for 1 GB.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

CLIENT = """
import anyio, sys
from pathlib import Path
from renderer.providers.http import HttpApi

async def main():
    api = HttpApi("bench", sys.argv[1], "varg_bench", {"max_download_bytes": 1 << 40})
    try:
        media_type, digest = await api.download(sys.argv[1] + "/_outputs/big.mp4", Path(sys.argv[2]),
                                                asset="big", expect_kind="video")
    finally:
        await api.aclose()
    print(digest)

anyio.run(main)
"""


def main(size_mb: int) -> None:
    from renderer.sandbox.server import serve

    server = serve("127.0.0.1", 0)
    try:
        big = server.sandbox.root / "big.mp4"
        with open(big, "wb") as handle:  # real bytes, not a sparse file, so the disk path is exercised too
            block = os.urandom(1 << 20)
            for _ in range(size_mb):
                handle.write(block)
        dest = server.sandbox.root / "downloaded.mp4"
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", CLIENT, server.url, str(dest)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        assert dest.stat().st_size == size_mb << 20
        print(
            f"downloaded {size_mb} MB in {elapsed:.1f} s ({size_mb / elapsed:.0f} MB/s); "
            f"client peak memory {peak_mb:.0f} MB (target < 100 MB); sha256 {result.stdout.strip()[:16]}..."
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)

"""Remote cache benchmark against moto's S3 server on loopback (a separate process, so its memory does not
count): push and pull of many 1 MB outputs and of one big output, through render's own ObjectRemote.

    python bench/remote.py [--small N] [--big-mb MB] [--restore N]
        (defaults: 200 outputs of 1 MB, one of 1024 MB, a 1,000-asset project)

Prints throughput and the client's peak resident memory for each phase. Target: memory flat in file size
(a 1 GB output under 100 MB peak). Then the wall time of ``render --locked`` restoring every output of an
N-asset project (bench/noop.py's random graph) on a second "machine" with an empty cache, from the S3
server and from a shared folder.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIENT = """
import hashlib, os, resource, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from renderer.store.remote import open_remote

phase, url, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
remote = open_remote(url)
files = sorted(p for p in folder.iterdir() if p.name.startswith("blob-"))
digests = {p: p.name.removeprefix("blob-") for p in files}
started = time.monotonic()
def push(path): remote.put_blob(path, digests[path])
def pull(path):
    dest = folder / ("back-" + digests[path])
    assert remote.fetch_blob(digests[path], dest) == digests[path]
    dest.unlink()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(push if phase == "push" else pull, files))
elapsed = time.monotonic() - started
size = sum(p.stat().st_size for p in files)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{phase:4} {len(files):4} files {size / 2**20:8.0f} MB  {elapsed:6.2f} s  {size / 2**20 / elapsed:7.1f} MB/s  peak {peak:6.0f} MB")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_files(folder: Path, count: int, size: int) -> None:
    import hashlib

    folder.mkdir(parents=True)
    block = os.urandom(1 << 20)
    for n in range(count):
        digest = hashlib.sha256()
        tmp = folder / f"tmp-{n}"
        with open(tmp, "wb") as handle:
            written = 0
            while written < size:
                chunk = block[: min(len(block), size - written)]
                chunk = n.to_bytes(8, "little") + chunk[8:] if written == 0 else chunk
                handle.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        tmp.rename(folder / f"blob-{digest.hexdigest()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--restore", type=int, default=1000, metavar="N", help="assets in the --locked restore")
    args = parser.parse_args()
    port = free_port()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("moto's server did not start") from None
                time.sleep(0.2)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as scratch:
            for label, count, size in (("small", args.small, 1 << 20), ("big", 1, args.big_mb << 20)):
                folder = Path(scratch) / label
                make_files(folder, count, size)
                for phase in ("push", "pull"):
                    subprocess.run(
                        [sys.executable, "-c", CLIENT, phase, f"s3://bench/{label}", str(folder)], env=env, check=True
                    )
            if args.restore:
                restore(Path(scratch) / "restore", args.restore, env)
    finally:
        server.terminate()
        server.wait(timeout=30)


def restore(root: Path, n: int, env: dict[str, str]) -> None:
    """Machine A renders an N-asset project into a remote; machine B, with the spec, the lockfile and an
    empty cache, restores it all with --locked."""
    import shutil

    sys.path.insert(0, str(Path(__file__).parent))
    from noop import RENDER, make_spec

    shared = root / "shared"
    shared.mkdir(parents=True)
    for remote in ("s3://bench/restore", str(shared)):
        a, b = root / "a", root / "b"
        for folder in (a, b):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        make_spec(a / "p.yaml", n)
        first = {**env, "RENDER_CACHE_DIR": str(root / "cache-a")}
        shutil.rmtree(root / "cache-a", ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([RENDER, str(a / "p.yaml"), "-q", "--remote", remote], env=first, check=True, cwd=a)
        made = time.perf_counter() - started
        shutil.copyfile(a / "p.yaml", b / "p.yaml")
        shutil.copyfile(a / "p.lock", b / "p.lock")
        second = {**env, "RENDER_CACHE_DIR": str(root / "cache-b")}
        shutil.rmtree(root / "cache-b", ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([RENDER, str(b / "p.yaml"), "-q", "--locked", "--remote", remote], env=second, check=True, cwd=b)
        took = time.perf_counter() - started
        where = "S3 (moto)" if remote.startswith("s3://") else "shared folder"
        print(
            f"--locked restore of {n} assets from {where}: {took:.1f} s ({took / n * 1000:.1f} ms/asset); "
            f"machine A's render and push took {made:.1f} s"
        )


if __name__ == "__main__":
    main()

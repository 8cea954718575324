"""An executor that makes fixed bytes: what a Dask or test executor plugs in instead of LocalExecutor."""

from __future__ import annotations

import hashlib
from pathlib import Path

from renderer.engine.executor import Generated, GenerateTask
from renderer.providers.base import Job, JobState

# the head of a 3 x 2 PNG: enough for the prober to read its size
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (3).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"\x08\x02"


class RecordingExecutor:
    """An executor that writes fixed bytes: what a Dask or test executor plugs in instead of LocalExecutor."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.tasks: list[GenerateTask] = []

    async def execute(self, task: GenerateTask) -> Generated:
        self.tasks.append(task)
        path = self.scratch / f"out-{len(self.tasks)}.png"
        path.write_bytes(PNG)
        job = Job(id="job-9", state=JobState.SUCCEEDED, resolved_model="x:y", cost_usd=0.5)
        return Generated(path, hashlib.sha256(PNG).hexdigest(), len(PNG), job, resumed=False)

    async def aclose(self) -> None:
        return None

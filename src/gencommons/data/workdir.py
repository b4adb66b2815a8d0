"""The layout of a run's working folder, ``<output>/.gencommons/``.

```
run.json        the config hash and resolved config this work belongs to
done/KEY.json   completion record of each finished task (written last: its existence means done)
tmp/KEY/        files of a task in progress (removed when the task restarts)
stage-K/        intermediate Parquet written by map stage K, for the next stage
final/          output files, moved into <output>/ when every task is done
rejected/       dropped documents with their reason
quarantine/     malformed input records (on_error: quarantine)
global-I/       signatures and decisions of the global step at steps[I]
commit.json     the list of moves of the final commit, so that an interrupted commit can finish
```
"""

from __future__ import annotations

import glob
import os
import re
import shutil


class Workdir:
    def __init__(self, root: str):
        self.root = root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @staticmethod
    def _safe(key: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "-", key)

    def done_path(self, key: str) -> str:
        return self.path("done", self._safe(key) + ".json")

    def is_done(self, key: str) -> bool:
        return os.path.exists(self.done_path(key))

    def tmp_dir(self, key: str) -> str:
        return self.path("tmp", self._safe(key))

    def stage_dir(self, stage: int) -> str:
        return self.path(f"stage-{stage}")

    def final_dir(self) -> str:
        return self.path("final")

    def rejected_dir(self) -> str:
        return self.path("rejected")

    def quarantine_dir(self) -> str:
        return self.path("quarantine")

    def global_dir(self, step_index: int) -> str:
        d = self.path(f"global-{step_index}")
        os.makedirs(d, exist_ok=True)
        return d

    def stage_files(self, stage: int, shard: int) -> list[str]:
        return sorted(
            glob.glob(os.path.join(glob.escape(self.stage_dir(stage)), f"part-{shard:05d}-*.parquet"))
        )

    def reset_signatures(self, step_index: int, shard: int) -> None:
        for f in glob.glob(
            os.path.join(glob.escape(self.global_dir(step_index)), "**", f"*s{shard:05d}*"), recursive=True
        ):
            os.remove(f)

    @staticmethod
    def remove_prefixed(folder: str, prefix: str) -> None:
        for f in glob.glob(os.path.join(glob.escape(folder), prefix + "-*")):
            os.remove(f)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

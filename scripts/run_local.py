"""`make run`: this week's fundamentals and one event-pipeline tick on the embedded default; then where things are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ops_assets.cli import EVENT_PIPELINE, materialize_command
from ops_assets.environments import local_data_dir
from ops_assets.fundamentals import keys
from ops_assets.fundamentals.partitions import partition_date, weekly_partitions
from ops_assets.partitions import daily_partitions


def main() -> int:
    # The week that started last Sunday 06:00 UTC (the one the schedule ran or would run now).
    partition = weekly_partitions.get_last_partition_key()
    if partition is None:
        raise SystemExit("No weekly partition has started yet.")
    command = materialize_command(partition, sys.executable)
    source = "Alpha Vantage" if os.environ.get("ALPHA_VANTAGE_API_KEY") else "the bundled offline sample source"
    print(f"Materializing the fundamentals assets for week {partition} from {source} ...", flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        print(f"\nThe run failed (exit {result.returncode}); the error is above.", file=sys.stderr)
        return result.returncode
    today = daily_partitions.get_last_partition_key()
    print(f"\nOne tick of the event pipeline (news, telemetry, signals, dispatch) for {today} ...", flush=True)
    result = subprocess.run(materialize_command(today, sys.executable, EVENT_PIPELINE), check=False)
    if result.returncode != 0:
        print(f"\nThe event-pipeline tick failed (exit {result.returncode}); the error is above.", file=sys.stderr)
        return result.returncode
    if os.environ.get("OPS_ENV", "local") == "local":
        print(f"\nCentral store (SQLite): {local_data_dir() / 'central_store.db'}")
        artifact = local_data_dir() / "object-store" / keys.artifact_key(partition_date(partition))
        print(f"\nArtifact: {artifact}")
        print(f"Object store (laid out like the S3 bucket): {Path(local_data_dir()) / 'object-store'}")
    print("Open the UI on the same instance: make ui  (then http://127.0.0.1:3000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

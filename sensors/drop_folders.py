"""A sensor on the drop folders: a new, edited or removed file requests a run of exactly the raw assets
that read that kind of file (vault notes -> raw/notes, inbox .bib/.ris/.ics -> their tables).

The cursor maps each file to (mtime_ns, size, sha256 prefix): a file is hashed only when its mtime or
size moved, and it counts as changed only when its content did (a `touch` requests nothing).

A file the cursor has never seen (the sensor's first tick, e.g. the first `studentops dev` after a
`studentops materialize`) is new only if it was written after the run that last materialised its
raw asset started: files that run already loaded are not loaded again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg

from studentops_assets.core.settings import StudentOpsConfig, load_config

# Which raw asset reads which kind of dropped file.
INBOX_TARGETS: Mapping[str, dg.AssetKey] = {
    ".bib": dg.AssetKey(["raw", "bibtex_entries"]),
    ".ris": dg.AssetKey(["raw", "ris_entries"]),
    ".ics": dg.AssetKey(["raw", "ical_events"]),
}
VAULT_TARGET = dg.AssetKey(["raw", "notes"])
NOTE_SUFFIXES = {".md", ".markdown"}


def _fingerprint(path: Path, previous: list | None) -> list | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    if previous and previous[0] == stat.st_mtime_ns and previous[1] == stat.st_size:
        return previous
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size, digest.hexdigest()[:16]]


def watched_files(config: StudentOpsConfig, targets: set[dg.AssetKey]) -> Iterable[tuple[str, Path, dg.AssetKey]]:
    """(cursor key, path, target) for every file the sensor watches."""
    if VAULT_TARGET in targets:
        for student in config.students:
            root = config.student_vault(student)
            if root.is_dir():
                for path in root.rglob("*"):
                    rel = path.relative_to(root)
                    if path.suffix.lower() in NOTE_SUFFIXES and not any(p.startswith(".") for p in rel.parts) and path.is_file():
                        yield f"vault:{student.id}:{rel.as_posix()}", path, VAULT_TARGET
    inbox = config.inbox_dir
    if inbox.is_dir():
        for path in inbox.rglob("*"):
            target = INBOX_TARGETS.get(path.suffix.lower())
            if target in targets and path.is_file():
                yield f"inbox:{path.relative_to(inbox).as_posix()}", path, target


def changed_targets(
    config: StudentOpsConfig,
    targets: set[dg.AssetKey],
    cursor: Mapping[str, list],
    loaded_since: Mapping[dg.AssetKey, float] | None = None,
) -> tuple[set[dg.AssetKey], dict[str, list], list[str]]:
    """The targets to run, the new cursor, and the changed files (for the run's tags/logs).

    `loaded_since`: per target, when (epoch seconds) the run that last materialised it started; a
    file unknown to the cursor and older than that was loaded by that run."""
    loaded_since = loaded_since or {}
    new_cursor: dict[str, list] = {}
    target_of: dict[str, dg.AssetKey] = {}
    for key, path, target in watched_files(config, targets):
        fingerprint = _fingerprint(path, cursor.get(key))
        if fingerprint is not None:
            new_cursor[key] = fingerprint
            target_of[key] = target
    affected: set[dg.AssetKey] = set()
    changed: list[str] = []
    for key, fingerprint in new_cursor.items():
        old = cursor.get(key)
        since = loaded_since.get(target_of[key])
        if old is None and since is not None and fingerprint[0] / 1e9 < since:
            continue  # loaded by the target's last run, before the sensor ever looked
        if old is None or old[2] != fingerprint[2]:
            affected.add(target_of[key])
            changed.append(key)
    for key in set(cursor) - set(new_cursor):
        # A removed note is a deletion raw/notes must see; a removed inbox file changes nothing
        # (inbox rows stay), but its loader is cheap to run and decides that itself.
        prefix = key.split(":", 1)[0]
        if prefix == "vault":
            affected.add(VAULT_TARGET)
        else:
            suffix = Path(key).suffix.lower()
            if suffix in INBOX_TARGETS and INBOX_TARGETS[suffix] in targets:
                affected.add(INBOX_TARGETS[suffix])
        changed.append(key)
    return affected, new_cursor, sorted(changed)


def _last_loads(context: dg.SensorEvaluationContext, targets: set[dg.AssetKey]) -> dict[dg.AssetKey, float]:
    """When the run behind each target's latest materialisation started (its event's time if the run
    is unknown). Empty without an instance (a sensor evaluated in isolation)."""
    try:
        instance = context.instance
    except Exception:  # noqa: BLE001 - build_sensor_context() without an instance
        return {}
    out: dict[dg.AssetKey, float] = {}
    for target in targets:
        event = instance.get_latest_materialization_event(target)
        if event is None:
            continue
        run = instance.get_run_record_by_id(event.run_id) if event.run_id else None
        started = run.start_time if run is not None and run.start_time else None
        out[target] = started or event.timestamp
    return out


def build_drop_folder_sensor(available: set[dg.AssetKey]) -> dg.SensorDefinition:
    targets = {VAULT_TARGET, *INBOX_TARGETS.values()} & available

    @dg.sensor(
        name="drop_folders_sensor",
        target=sorted(targets, key=lambda k: k.to_user_string()),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the raw loaders whose files changed in the vault or the inbox.",
    )
    def drop_folders_sensor(context: dg.SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        affected, new_cursor, changed = changed_targets(
            load_config(), targets, cursor, _last_loads(context, targets) if not cursor else None
        )
        if affected:
            context.log.info(f"{len(changed)} changed files: {', '.join(changed[:10])}")
            # No run_key: the cursor already keeps a change from being requested twice, and a key
            # derived from the folder state would repeat when the state returns to an earlier one
            # (a note added, then deleted), and Dagster would drop that request as a duplicate.
            yield dg.RunRequest(
                asset_selection=sorted(affected, key=lambda k: k.to_user_string()),
                tags={"studentops/changed_files": str(len(changed))},
            )
        else:
            yield dg.SkipReason("no file changed in the vault or the inbox")
        context.update_cursor(json.dumps(new_cursor, sort_keys=True))

    return drop_folders_sensor

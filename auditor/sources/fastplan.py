"""Where each table comes from: the fast path's INFORMATION_SCHEMA snapshot, or the API.

`reconcile_dataset` compares one dataset's tables in a RegionSnapshot
(auditor.sources.infoschema) with what the per-object API said about the dataset
(datasets.get, tables.list) and returns a Plan: per table, the rebuilt Table to use, or the
reason (a `Fallback`) to read it one by one. What disagrees costs that table or that dataset,
never the region; only a region that could not be read at all sends every table to the API.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from auditor.model import Dataset, Table
from auditor.sources.infoschema import DatasetOptions, RegionSnapshot, TableKey


class Fallback(StrEnum):
    """Why a table is read one by one although the fast path is on (the run section counts
    tables per kind; the detail text goes into the notes)."""

    FAST_PATH_OFF = "fast path off"
    LOCATION_NOT_READ = "location not read"  # --region left it out, or no location known
    REGION_UNREADABLE = "region unreadable"  # a whole view could not be read
    DATASET_OPTIONS_DISAGREE = "dataset options disagree"
    POLICY_TAGS_NEEDED = "policy tags needed"
    NOT_IN_INFORMATION_SCHEMA = "not in INFORMATION_SCHEMA"
    LISTINGS_DISAGREE = "listings disagree"
    IMPLAUSIBLE_ROWS = "implausible rows"
    KMS_KEY_MISSING = "KMS key missing"
    KMS_KEYS_OMITTED = "KMS keys omitted"  # the region's answers leave KMS keys out


@dataclass(frozen=True)
class Reason:
    kind: Fallback
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Plan:
    """Per table: the rebuilt Table to use, or why to read it table by table."""

    use: Mapping[TableKey, Table]
    fallback: Mapping[TableKey, Reason]

    @classmethod
    def one_by_one(cls, keys: Collection[TableKey], kind: Fallback, detail: str) -> Plan:
        """Every table read one by one, for the same reason."""
        reason = Reason(kind, detail)
        return cls({}, dict.fromkeys(keys, reason))


NeedsTags = Callable[[str], bool]  # dataset id -> whether its tables must carry policy tags


def _never(_: str) -> bool:
    return False


def reconcile(
    snapshot: RegionSnapshot,
    datasets: Sequence[Dataset],
    listed: Mapping[str, Mapping[str, str]],
    needs_tags: NeedsTags = _never,
) -> Plan:
    """Decide, for every table listed by the API (or by TABLES), where to take it from.

    `datasets`: the datasets read through the API (their tables are the ones to collect);
    `listed`: dataset id -> {table id: type} from tables.list; `needs_tags`: the datasets
    whose tables must carry policy tags. Each dataset is decided on its own
    (reconcile_dataset): what disagrees costs that dataset, or that table, not the region.
    """
    use: dict[TableKey, Table] = {}
    fallback: dict[TableKey, Reason] = {}
    for dataset in datasets:
        plan = reconcile_dataset(snapshot, dataset, listed.get(dataset.dataset_id, {}), needs_tags)
        use.update(plan.use)
        fallback.update(plan.fallback)
    return Plan(use, fallback)


def reconcile_dataset(
    snapshot: RegionSnapshot,
    dataset: Dataset,
    from_api: Mapping[str, str],
    needs_tags: NeedsTags = _never,
) -> Plan:
    """One dataset's tables: taken from the snapshot only when nothing blocks the region,
    the dataset is in the snapshot's region, its SCHEMATA_OPTIONS agree with datasets.get
    (labels, description, default KMS key), policy tags are in the snapshot or not needed
    here, the table was rebuilt, its type agrees with tables.list, and a table in a dataset
    with a default KMS key shows a key."""
    dataset_id = dataset.dataset_id
    from_is = {t for d, t in (*snapshot.tables, *snapshot.rejected) if d == dataset_id}
    in_region = (dataset.location or "").lower() == snapshot.region.lower()
    whole = _dataset_reason(snapshot, dataset, in_region, needs_tags)
    use: dict[TableKey, Table] = {}
    fallback: dict[TableKey, Reason] = {}
    for table_id in sorted(set(from_api) | (from_is if in_region else set())):
        key = (dataset_id, table_id)
        reason = whole or _table_reason(snapshot, dataset, key, from_api)
        if reason is None:
            use[key] = snapshot.tables[key]
        else:
            fallback[key] = reason
    return Plan(use, fallback)


def _dataset_reason(
    snapshot: RegionSnapshot, dataset: Dataset, in_region: bool, needs_tags: NeedsTags
) -> Reason | None:
    if snapshot.blockers:
        return Reason(Fallback.REGION_UNREADABLE, snapshot.blockers[0])
    if not in_region:
        return Reason(
            Fallback.LOCATION_NOT_READ,
            f"dataset location {dataset.location} is outside region {snapshot.region}",
        )
    options = snapshot.dataset_options.get(dataset.dataset_id, DatasetOptions())
    if (
        dict(options.labels) != dict(dataset.labels)
        or options.description != dataset.description
        or options.default_kms_key != dataset.default_kms_key
    ):
        return Reason(
            Fallback.DATASET_OPTIONS_DISAGREE,
            "INFORMATION_SCHEMA.SCHEMATA_OPTIONS disagrees with datasets.get for this dataset, "
            "so its *_OPTIONS answers are not trusted",
        )
    if not snapshot.policy_tags and needs_tags(dataset.dataset_id):
        return Reason(
            Fallback.POLICY_TAGS_NEEDED,
            "its policy tags are needed and INFORMATION_SCHEMA gave none",
        )
    return None


def _table_reason(
    snapshot: RegionSnapshot,
    dataset: Dataset,
    key: TableKey,
    from_api: Mapping[str, str],
) -> Reason | None:
    if key in snapshot.rejected:
        return Reason(Fallback.IMPLAUSIBLE_ROWS, snapshot.rejected[key])
    table = snapshot.tables.get(key)
    if table is None:
        return Reason(Fallback.NOT_IN_INFORMATION_SCHEMA, "not in INFORMATION_SCHEMA")
    if key[1] not in from_api:
        return Reason(
            Fallback.LISTINGS_DISAGREE,
            "in INFORMATION_SCHEMA.TABLES but not listed by tables.list",
        )
    if from_api[key[1]] != table.type:
        return Reason(
            Fallback.LISTINGS_DISAGREE,
            "tables.list and INFORMATION_SCHEMA.TABLES disagree on the table type",
        )
    if dataset.default_kms_key and not table.kms_key:
        return Reason(
            Fallback.KMS_KEY_MISSING, "dataset has a default KMS key but TABLE_OPTIONS shows none"
        )
    return None

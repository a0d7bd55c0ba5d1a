-- Schemas of the warehouse (DESIGN.md): raw is owned by the loaders, staging/snapshots/marts by dbt,
-- ml by the model assets, meta by the platform itself. Idempotent: runs before every materialisation.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists snapshots;
create schema if not exists marts;
create schema if not exists ml;
create schema if not exists meta;

-- Bad input never stops a batch: the bad file or record lands here with a readable reason.
-- One row per (source, student, file, location, reason); a rerun that meets the same problem
-- only moves last_seen, so rerunning never duplicates quarantine rows.
create table if not exists meta.quarantine (
    quarantine_id bigint generated always as identity primary key,
    source        text        not null,
    student_id    text        not null default '',
    file          text        not null default '',
    location      text        not null default '',
    reason        text        not null,
    snippet       text,
    first_seen    timestamptz not null default now(),
    last_seen     timestamptz not null default now(),
    constraint quarantine_identity unique (source, student_id, file, location, reason)
);
comment on table meta.quarantine is
    'Files and records that could not be loaded, with where they came from and why.';

-- Alerts raised by the graph (students entering the high churn tier, failed runs, failed freshness
-- policies), read by the staff digest and by the run-failure notifier. At most one open alert per
-- (alert_type, entity): raising an alert that is already open changes nothing.
create table if not exists meta.alerts (
    alert_id        bigint generated always as identity primary key,
    alert_type      text        not null,
    severity        text        not null check (severity in ('info', 'warning', 'critical')),
    entity_type     text        not null,
    entity_id       text        not null,
    status          text        not null default 'open' check (status in ('open', 'acknowledged', 'resolved')),
    summary         text        not null,
    details         jsonb       not null default '{}'::jsonb,
    created_at      timestamptz not null default now(),
    acknowledged_at timestamptz,
    resolved_at     timestamptz
);
create unique index if not exists alerts_one_open_per_entity
    on meta.alerts (alert_type, entity_type, entity_id) where status <> 'resolved';
comment on table meta.alerts is
    'Alerts raised by the graph: type, severity, the entity concerned, open/acknowledged/resolved.';

-- When the citation cache last asked about a DOI whose answer did not change (still not found, still
-- unreachable): raw.citation_cache keeps the row as it was (a rerun against the same outside world
-- changes no raw row), and the next look-up waits its TTL from here rather than from fetched_at.
create table if not exists meta.citation_rechecks (
    doi        text        primary key,
    checked_at timestamptz not null
);
comment on table meta.citation_rechecks is
    'Last re-check of each unresolved DOI whose answer was unchanged (the cache row was left as it was).';

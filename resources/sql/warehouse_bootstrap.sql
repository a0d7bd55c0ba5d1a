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
-- AI outputs about students' own notes are private: schema ai, which the BI role is never granted
-- (resources/bi_role.py grants marts and ml only).
create schema if not exists ai;

-- AI usage and the daily budget (issue #11). One row per Messages API call or Message Batches item.
-- A call first *reserves* its maximum cost (counted input tokens + max_tokens of output) under an
-- advisory lock, then settles to the real usage; the day's spend is the sum of settled costs plus
-- open reservations, so two runs at once can never commit more than ANTHROPIC_DAILY_BUDGET_USD.
-- A reservation whose call never got an answer (a killed run) stays counted: it errs on the safe side.
create table if not exists meta.ai_usage (
    usage_id                    bigint generated always as identity primary key,
    usage_day                   date        not null,
    status                      text        not null default 'reserved'
                                check (status in ('reserved', 'settled', 'failed', 'released')),
    provider                    text        not null default 'anthropic',
    api                         text        not null default 'messages' check (api in ('messages', 'batch')),
    model                       text        not null,
    asset_key                   text        not null,
    run_id                      text,
    item_key                    text        not null,
    batch_id                    text,
    custom_id                   text,
    request                     jsonb       not null default '{}'::jsonb,
    input_tokens                integer,
    output_tokens               integer,
    cache_creation_input_tokens integer,
    cache_read_input_tokens     integer,
    reserved_usd                numeric(12, 6) not null default 0,
    usd                         numeric(12, 6),
    error                       text,
    created_at                  timestamptz not null default now(),
    settled_at                  timestamptz
);
create index if not exists ai_usage_by_day on meta.ai_usage (usage_day);
create index if not exists ai_usage_open_batches on meta.ai_usage (batch_id) where status = 'reserved' and batch_id is not null;
comment on table meta.ai_usage is
    'One row per LLM call or batch item: model, tokens, reserved and settled USD, run, asset, batch.';

-- Digests go through an outbox: rendered and recorded first, sent afterwards. One row per
-- (kind, period, recipient): a rerun never renders a second digest for the same period, and the
-- provider's idempotency key (idempotency_key) makes a resend after a crash a no-op at the provider.
-- status: queued (rendered, not yet accepted by the provider, also when no RESEND_API_KEY is set),
-- sent (accepted; provider_message_id set), failed (the last attempt failed; retried next run).
create table if not exists meta.digest_outbox (
    outbox_id           bigint generated always as identity primary key,
    digest_kind         text        not null check (digest_kind in ('daily', 'weekly', 'staff')),
    period_key          text        not null,
    period_start        date        not null,
    period_end          date        not null,
    recipient_id        text        not null,
    recipient_email     text,
    subject             text        not null,
    body_text           text        not null,
    html_path           text        not null,
    idempotency_key     text        not null unique,
    stale_assets        jsonb       not null default '[]'::jsonb,
    status              text        not null default 'queued' check (status in ('queued', 'sent', 'failed')),
    provider            text,
    provider_message_id text,
    attempts            integer     not null default 0,
    last_error          text,
    created_at          timestamptz not null default now(),
    last_attempt_at     timestamptz,
    sent_at             timestamptz,
    constraint digest_outbox_once unique (digest_kind, period_key, recipient_id)
);
comment on table meta.digest_outbox is
    'Every digest rendered (HTML under artifacts/), and whether the mail provider accepted it.';

-- Run-failure alerts mailed to staff: the same outbox discipline as the digests (recorded first, in
-- the transaction that opens the alert; sent afterwards under a per-row lock with an idempotency
-- key), one row per (alert, staff address). Only a newly opened alert is mailed, never a repeat.
create table if not exists meta.alert_outbox (
    outbox_id           bigint generated always as identity primary key,
    alert_id            bigint      not null references meta.alerts (alert_id),
    recipient_id        text        not null,
    recipient_email     text,
    subject             text        not null,
    body_text           text        not null,
    body_html           text        not null,
    idempotency_key     text        not null unique,
    status              text        not null default 'queued' check (status in ('queued', 'sent', 'failed')),
    provider            text,
    provider_message_id text,
    attempts            integer     not null default 0,
    last_error          text,
    created_at          timestamptz not null default now(),
    last_attempt_at     timestamptz,
    sent_at             timestamptz,
    constraint alert_outbox_once unique (alert_id, recipient_id)
);
comment on table meta.alert_outbox is
    'Every alert e-mail recorded for a staff address, and whether the mail provider accepted it.';

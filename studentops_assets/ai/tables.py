"""Tables of the `ai` schema, created by the assets that own them (idempotent DDL).

Schema `ai` holds what the models wrote about students' own notes: private, so it is neither
`marts` nor `ml` (the BI role reads those, resources/bi_role.py) and the BI role is never granted it.
"""

from __future__ import annotations

NOTE_SUMMARIES_DDL = """
create schema if not exists ai;
create table if not exists ai.note_summaries (
    student_id      text        not null,
    note_key        text        not null,
    note_path       text        not null,
    title           text,
    course_code     text,
    content_sha256  text        not null,
    status          text        not null check (status in ('ok', 'failed', 'rejected')),
    provider        text        not null check (provider in ('anthropic', 'extractive')),
    model           text,
    prompt_version  text,
    summary         text,
    key_terms       jsonb       not null default '[]'::jsonb,
    flashcards      jsonb       not null default '[]'::jsonb,
    reason          text,
    batch_id        text,
    usd             numeric(12, 6) not null default 0,
    run_id          text,
    summarised_at   timestamptz not null default now(),
    primary key (student_id, note_key),
    -- A stored summary is a valid one; a failed or rejected item keeps only its reason.
    constraint note_summary_shape check (
        (status = 'ok' and summary is not null) or (status <> 'ok' and summary is null)
    ),
    constraint flashcards_at_most_five check (jsonb_array_length(flashcards) <= 5)
);
comment on table ai.note_summaries is
    'Per student note (latest content hash): summary, key terms, up to 5 flashcards, provider, status.';
"""

COURSE_WEEKLY_DDL = """
create schema if not exists ai;
create table if not exists ai.course_weekly_summaries (
    course_code     text        not null,
    week_start      date        not null,
    input_sha256    text        not null,
    status          text        not null check (status in ('ok', 'failed', 'rejected')),
    provider        text        not null check (provider in ('anthropic', 'extractive')),
    model           text,
    prompt_version  text,
    summary         text,
    key_terms       jsonb       not null default '[]'::jsonb,
    activity        jsonb       not null default '{}'::jsonb,
    materials       jsonb       not null default '[]'::jsonb,
    reason          text,
    usd             numeric(12, 6) not null default 0,
    run_id          text,
    summarised_at   timestamptz not null default now(),
    primary key (course_code, week_start),
    constraint course_summary_shape check (
        (status = 'ok' and summary is not null) or (status <> 'ok' and summary is null)
    )
);
comment on table ai.course_weekly_summaries is
    'Per course and ISO week: a summary of the materials studied that week and the week''s activity.';
"""

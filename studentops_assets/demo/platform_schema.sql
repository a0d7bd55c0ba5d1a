-- The study platform's own database ("seed B" schema), recreated by `studentops demo`.
-- Run in one transaction: the drops make a rerun start from nothing, so it gives identical data.
-- Foreign keys and secondary indexes come after the bulk load (section marked below): building
-- them once over loaded tables is several times cheaper than checking them row by row during COPY.
-- So do the primary and unique keys of the activity tables, which take millions of rows in batches
-- (a random uuid per row makes inserting into a B-tree during COPY the slowest part of a big load).

DROP TABLE IF EXISTS
    audit_logs, user_recent_files, user_notes, user_tasks, user_course_activities,
    file_viewing_sessions, points_transactions, file_requests, materials, material_types,
    lecturers, courses, users, majors
    CASCADE;
DROP SCHEMA IF EXISTS demo_truth CASCADE;

CREATE TABLE majors (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('STUDENT', 'ADMIN')),
    major_id uuid,
    total_points integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE courses (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    major_id uuid NOT NULL,
    year_id integer NOT NULL CHECK (year_id BETWEEN 1 AND 4),
    semester integer NOT NULL CHECK (semester IN (1, 2)),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE lecturers (
    id uuid PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE material_types (
    id integer PRIMARY KEY,
    display_name text NOT NULL UNIQUE
);

CREATE TABLE materials (
    id uuid PRIMARY KEY,
    title text NOT NULL,
    academic_year text NOT NULL,
    material_year integer NOT NULL,
    course_id uuid NOT NULL,
    lecturer_id uuid,
    type_id integer NOT NULL,
    uploader_id uuid NOT NULL,
    notes text,
    file_url text NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE file_requests (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    course_id uuid NOT NULL,
    title text NOT NULL,
    type_id integer NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    admin_note text,
    material_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((status = 'approved') = (material_id IS NOT NULL))
);

-- Append-only XP ledger; source_id makes every award idempotent.
CREATE TABLE points_transactions (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    amount integer NOT NULL,
    action text NOT NULL CHECK (action IN ('upload_approval', 'file_completed', 'course_complete')),
    reason text NOT NULL,
    request_id uuid,
    source_id text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE file_viewing_sessions (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    file_id uuid NOT NULL,
    course_id uuid NOT NULL,
    started_at timestamptz NOT NULL,
    active_seconds integer NOT NULL CHECK (active_seconds >= 0),
    required_active_seconds integer NOT NULL CHECK (required_active_seconds > 0),
    completion_score numeric(4, 3) NOT NULL CHECK (completion_score BETWEEN 0 AND 1),
    is_complete boolean NOT NULL,
    CHECK (is_complete = (completion_score >= 1 OR active_seconds >= required_active_seconds))
);

CREATE TABLE user_course_activities (
    user_id uuid NOT NULL,
    course_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('not_started', 'exploring', 'engaged', 'completed')),
    files_completed integer NOT NULL DEFAULT 0,
    total_files integer,  -- never filled by the platform's seed; kept NULL on purpose
    updated_at timestamptz NOT NULL
);

CREATE TABLE user_tasks (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    title text NOT NULL,
    date date NOT NULL,
    start_hour integer NOT NULL CHECK (start_hour BETWEEN 0 AND 23),
    duration integer NOT NULL CHECK (duration > 0),
    priority text NOT NULL CHECK (priority IN ('normal', 'high', 'urgent')),
    completed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE user_notes (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    course_id uuid NOT NULL,
    material_id uuid,
    content text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE user_recent_files (
    user_id uuid NOT NULL,
    file_id uuid NOT NULL,
    last_opened_at timestamptz NOT NULL
);

CREATE TABLE audit_logs (
    id uuid NOT NULL,
    actor_id uuid,
    action text NOT NULL,
    entity text NOT NULL,
    entity_id uuid,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL
);

-- Ground truth of the planted disengagement: for evaluating the churn model only. The platform
-- never sees it, so it lives outside `public`.
CREATE SCHEMA demo_truth;

CREATE TABLE demo_truth.student_disengagement (
    user_id uuid NOT NULL,
    disengaged boolean NOT NULL,
    onset_date date,
    half_life_days numeric,
    base_rate numeric NOT NULL
);

CREATE TABLE demo_truth.generation (
    seed integer NOT NULL,
    students integer NOT NULL,
    days integer NOT NULL,
    end_date date NOT NULL,
    generated_at_fixed timestamptz NOT NULL
);

-- @after-load
-- Keys of the activity tables first: the foreign keys below need no other, and the constraint
-- names are the ones the inline declarations gave (<table>_pkey, <table>_<column>_key).
ALTER TABLE points_transactions ADD PRIMARY KEY (id), ADD UNIQUE (source_id);
ALTER TABLE file_viewing_sessions ADD PRIMARY KEY (id);
ALTER TABLE user_course_activities ADD PRIMARY KEY (user_id, course_id);
ALTER TABLE user_tasks ADD PRIMARY KEY (id);
ALTER TABLE user_notes ADD PRIMARY KEY (id);
ALTER TABLE user_recent_files ADD PRIMARY KEY (user_id, file_id);
ALTER TABLE audit_logs ADD PRIMARY KEY (id);
ALTER TABLE demo_truth.student_disengagement ADD PRIMARY KEY (user_id);

ALTER TABLE users ADD FOREIGN KEY (major_id) REFERENCES majors (id);
ALTER TABLE courses ADD FOREIGN KEY (major_id) REFERENCES majors (id);
ALTER TABLE materials
    ADD FOREIGN KEY (course_id) REFERENCES courses (id),
    ADD FOREIGN KEY (lecturer_id) REFERENCES lecturers (id),
    ADD FOREIGN KEY (type_id) REFERENCES material_types (id),
    ADD FOREIGN KEY (uploader_id) REFERENCES users (id);
ALTER TABLE file_requests
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (course_id) REFERENCES courses (id),
    ADD FOREIGN KEY (type_id) REFERENCES material_types (id),
    ADD FOREIGN KEY (material_id) REFERENCES materials (id);
ALTER TABLE points_transactions
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (request_id) REFERENCES file_requests (id);
ALTER TABLE file_viewing_sessions
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (file_id) REFERENCES materials (id),
    ADD FOREIGN KEY (course_id) REFERENCES courses (id);
ALTER TABLE user_course_activities
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (course_id) REFERENCES courses (id);
ALTER TABLE user_tasks ADD FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE user_notes
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (course_id) REFERENCES courses (id),
    ADD FOREIGN KEY (material_id) REFERENCES materials (id);
ALTER TABLE user_recent_files
    ADD FOREIGN KEY (user_id) REFERENCES users (id),
    ADD FOREIGN KEY (file_id) REFERENCES materials (id);
ALTER TABLE audit_logs ADD FOREIGN KEY (actor_id) REFERENCES users (id);
ALTER TABLE demo_truth.student_disengagement ADD FOREIGN KEY (user_id) REFERENCES users (id);

-- Incremental extraction reads by created_at/updated_at; per-user lookups drive features.
CREATE INDEX ON users (created_at);
CREATE INDEX ON users (updated_at);
CREATE INDEX ON materials (course_id);
CREATE INDEX ON materials (created_at);
CREATE INDEX ON materials (updated_at);
CREATE INDEX ON file_requests (user_id);
CREATE INDEX ON file_requests (created_at);
CREATE INDEX ON file_requests (updated_at);
CREATE INDEX ON points_transactions (user_id, created_at);
CREATE INDEX ON points_transactions (created_at);
CREATE INDEX ON file_viewing_sessions (user_id, started_at);
CREATE INDEX ON file_viewing_sessions (course_id, started_at);
CREATE INDEX ON file_viewing_sessions (started_at);
CREATE INDEX ON user_course_activities (course_id);
CREATE INDEX ON user_course_activities (updated_at);
CREATE INDEX ON user_tasks (user_id, date);
CREATE INDEX ON user_tasks (updated_at);
CREATE INDEX ON user_notes (user_id, created_at);
CREATE INDEX ON user_notes (updated_at);
CREATE INDEX ON user_recent_files (last_opened_at);
CREATE INDEX ON audit_logs (actor_id, created_at);
CREATE INDEX ON audit_logs (created_at);
CREATE INDEX ON audit_logs (entity, entity_id);

-- First start of the compose Postgres: the warehouse and the Dagster instance storage, pgvector in
-- the warehouse. StudentOps creates its schemas and the BI role itself.
create database warehouse;
create database dagster;
\connect warehouse
create extension if not exists vector;

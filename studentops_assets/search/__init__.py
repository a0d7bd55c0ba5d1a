"""Semantic search: chunks of materials, notes and reference abstracts, embedding sets in pgvector,
hybrid (vector + full-text) search from the CLI and from SQL."""

"""Zotero domain: the students' Zotero libraries (Web API v3) -> raw.zotero_items."""

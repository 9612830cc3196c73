-- Issue 14's budget: the outbox's second index, `events_source (source, seq)`, was one more
-- b-tree insert in every change (and, on PostgreSQL, one more index update when the
-- sequencer numbers the row). Only the `events = "own"` feed used it; it now filters
-- during the scan of `seq`, which stays in order (the rowid on SQLite, the `seq` unique
-- index on PostgreSQL), so a page costs at most the events it steps over.
DROP INDEX IF EXISTS events_source;

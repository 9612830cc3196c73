-- Issue 14's budget on batches: a record's event no longer copies the record as JSON in
-- every change (a `json_object` and ~200 bytes more per change, in the WAL of every
-- commit). Records never change, so `credits.added`, `credits.deducted` and
-- `credits.reversed` keep only `record_id`, and the feed builds their `data` from `records`
-- when it reads them (server/src/events/sqlite.rs), the same JSON as before. Holds,
-- transfers and registrations keep their snapshot in `data`. Events written before this
-- migration keep theirs too (`record_id` NULL).
ALTER TABLE events ADD COLUMN record_id INTEGER;

DROP TRIGGER events_change;
CREATE TRIGGER events_change AFTER INSERT ON records
WHEN NEW.hold_id IS NULL AND NEW.transfer_id IS NULL
BEGIN
    INSERT INTO events (type, source, telegram_id, data, record_id) VALUES (
        CASE WHEN NEW.reverses IS NOT NULL THEN 'credits.reversed'
             WHEN NEW.change > 0 THEN 'credits.added'
             ELSE 'credits.deducted' END,
        NEW.source, NEW.telegram_id, '', NEW.id);
END;

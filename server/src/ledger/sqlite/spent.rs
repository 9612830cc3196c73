//! Single-use signatures on SQLite: the durable log of spent signatures (`spent_signatures`,
//! in arrival order: its inserts append, and it has no index) and the uniqueness index
//! beside it, `temp.spent_keys`, in the writer connection's memory, which also holds each
//! key's log rowid (the log is pruned by it). Random keys cost their pages there, not in the WAL of every commit (issue 16:
//! 0.57 WAL pages per write before, migration 0009). The writer's one connection makes
//! every spend, and the index takes part in its transaction and savepoints, so a write or
//! group that is rolled back spends nothing, as with a key in the table itself. Each time
//! the writer takes a connection, [`prepare`] builds the index from the log, so a restart
//! forgets nothing.

use super::raw::{Db, Value};

/// Creates the connection's index of spent signatures and fills it from the log. Runs
/// outside any transaction, before the connection's first group.
pub fn prepare(db: &mut Db) -> Result<(), sqlx::Error> {
    db.exec(
        "CREATE TEMP TABLE IF NOT EXISTS spent_keys (
             signed_at INTEGER NOT NULL,
             source    TEXT    NOT NULL,
             signature INTEGER NOT NULL,
             log_rowid INTEGER NOT NULL,
             PRIMARY KEY (signed_at, source, signature)
         ) WITHOUT ROWID",
    )?;
    db.exec("DELETE FROM temp.spent_keys")?;
    db.exec(
        "INSERT OR IGNORE INTO temp.spent_keys (signed_at, source, signature, log_rowid)
         SELECT signed_at, source, signature, rowid FROM main.spent_signatures",
    )
}

/// Records `spend`'s signatures as spent; `false` when one already was (the caller then
/// rolls its savepoint back, so nothing of this write stays: not the log rows either).
pub fn spend(db: &mut Db, spend: &super::Spend) -> Result<bool, sqlx::Error> {
    let mut fresh = true;
    for key in &spend.keys {
        let (signed_at, source, signature) = (
            Value::Int(spend.signed_at),
            Value::Text(&spend.source),
            Value::Int(*key),
        );
        let log_rowid = db.insert(
            "INSERT INTO main.spent_signatures (signed_at, source, signature) VALUES (?, ?, ?)",
            &[signed_at, source, signature],
        )?;
        fresh &= db.execute(
            "INSERT INTO temp.spent_keys (signed_at, source, signature, log_rowid)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (signed_at, source, signature) DO NOTHING",
            &[signed_at, source, signature, Value::Int(log_rowid)],
        )? == 1;
    }
    Ok(fresh)
}

/// Forgets the oldest second of signatures once no server accepts them any more (signed
/// before `before`), in the log (by the rowids the index holds) and in the index, once per
/// group commit. When there is nothing to forget that is one seek for the oldest second,
/// decided here: the deletes, whose `IN (SELECT ...)` builds an ephemeral table, cost a
/// group of one a tenth of its statement time even when they delete nothing (issue 16).
pub fn prune(db: &mut Db, before: i64) -> Result<(), sqlx::Error> {
    let oldest = db
        .query("SELECT MIN(signed_at) FROM temp.spent_keys", &[], |row| {
            row.opt_int(0)
        })?
        .flatten();
    let Some(oldest) = oldest.filter(|&oldest| oldest < before) else {
        return Ok(());
    };
    db.execute(
        "DELETE FROM main.spent_signatures WHERE rowid IN (
             SELECT log_rowid FROM temp.spent_keys WHERE signed_at = ?1)",
        &[Value::Int(oldest)],
    )?;
    db.execute(
        "DELETE FROM temp.spent_keys WHERE signed_at = ?1",
        &[Value::Int(oldest)],
    )?;
    Ok(())
}

//! Reading the ledger: a balance, and keyset-paginated records behind opaque cursors.

use super::Ledger;
use credit_sync::protocol::{Balance, Record, RecordsPage};

impl Ledger {
    pub async fn balance(&self, telegram_id: i64) -> Result<Option<Balance>, sqlx::Error> {
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT credits, nickname FROM users WHERE telegram_id = ?")
                .bind(telegram_id)
                .fetch_optional(&self.store.reader)
                .await?;
        Ok(row.map(|(credits, nickname)| Balance {
            telegram_id,
            credits,
            nickname,
        }))
    }

    /// One page of a user's records, newest first, older than `before` (a record id).
    /// An unknown user simply has no records.
    pub async fn records(
        &self,
        telegram_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<RecordsPage, sqlx::Error> {
        type Row = (i64, i64, i64, String, String, Option<String>, String);
        let mut rows: Vec<Row> = sqlx::query_as(
            "SELECT id, change, balance_after, reason, source, external_reference, created_at
             FROM records WHERE telegram_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(telegram_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.store.reader)
        .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| encode_cursor(row.0))
        } else {
            None
        };
        let records = rows
            .into_iter()
            .map(
                |(id, change, balance_after, reason, source, external_reference, created_at)| {
                    Record {
                        id,
                        change,
                        balance_after,
                        reason,
                        source,
                        external_reference,
                        created_at,
                    }
                },
            )
            .collect();
        Ok(RecordsPage {
            records,
            next_cursor,
        })
    }
}

const CURSOR_PREFIX: &str = "r";

/// Cursors are opaque to clients; today they carry the id of the last record shown.
pub fn encode_cursor(record_id: i64) -> String {
    format!("{CURSOR_PREFIX}{record_id:x}")
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let hex = cursor.strip_prefix(CURSOR_PREFIX)?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for id in [1, 42, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
        assert_eq!(decode_cursor("42"), None);
        assert_eq!(decode_cursor("r"), None);
        assert_eq!(decode_cursor("r-1"), None);
        assert_eq!(decode_cursor("rzz"), None);
    }
}

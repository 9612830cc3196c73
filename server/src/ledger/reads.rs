//! Reading the ledger: a balance, and keyset-paginated records behind opaque cursors.

use super::{Ledger, LedgerBackend, LedgerError};
use credit_sync::protocol::{Balance, Record, RecordsPage};

impl Ledger {
    pub async fn balance(&self, telegram_id: i64) -> Result<Option<Balance>, LedgerError> {
        let row = self.backend.balance(telegram_id).await?;
        Ok(row.map(|row| Balance {
            telegram_id,
            credits: row.credits,
            nickname: row.nickname,
            held: row.held,
            available: Some(row.credits - row.held),
        }))
    }

    /// One page of a user's records, newest first, older than `before` (a record id).
    /// An unknown user simply has no records.
    pub async fn records(
        &self,
        telegram_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<RecordsPage, LedgerError> {
        let before = before.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        let mut rows = self.backend.records(telegram_id, before, fetch).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| encode_cursor(row.id))
        } else {
            None
        };
        let records = rows
            .into_iter()
            .map(|row| Record {
                id: row.id,
                change: row.change,
                balance_after: row.balance_after,
                reason: row.reason,
                source: row.source,
                external_reference: row.external_reference,
                created_at: row.created_at,
                hold_id: row.hold_id,
                reverses: row.reverses,
                transfer_id: row.transfer_id,
            })
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

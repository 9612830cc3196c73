//! Walks a user's records across keyset pages, newest first. Shared by the async
//! `records_stream` and the blocking `records_iter`, which differ only in how they
//! fetch a page.

use crate::model::{Record, RecordsPage};
use std::collections::VecDeque;

/// What the walker needs next.
pub enum Step {
    /// Hand out this record.
    Yield(Record),
    /// Fetch the page at this cursor (`None`: the first page), then call [`Pager::feed`].
    Fetch(Option<String>),
    /// Every record was handed out (or a fetch failed).
    Done,
}

#[derive(Debug, Default)]
pub struct Pager {
    buffer: VecDeque<Record>,
    /// `Some(cursor)`: another page exists; `None`: no more pages.
    next: Option<Option<String>>,
    started: bool,
}

impl Pager {
    pub fn new() -> Pager {
        Pager::default()
    }

    pub fn step(&mut self) -> Step {
        if let Some(r) = self.buffer.pop_front() {
            return Step::Yield(r);
        }
        if !self.started {
            self.started = true;
            return Step::Fetch(None);
        }
        match self.next.take() {
            Some(cursor) => Step::Fetch(cursor),
            None => Step::Done,
        }
    }

    pub fn feed(&mut self, page: RecordsPage) {
        self.buffer.extend(page.records);
        self.next = page.next_cursor.map(Some);
    }

    /// After a failed fetch the walk ends (the error was handed out).
    pub fn fail(&mut self) {
        self.buffer.clear();
        self.next = None;
        self.started = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64) -> Record {
        Record {
            id,
            change: 1,
            balance_after: id,
            reason: "r".into(),
            source: "s".into(),
            external_reference: None,
            created_at: "2024-01-01T00:00:00Z".into(),
            hold_id: None,
            reverses: None,
            transfer_id: None,
        }
    }

    #[test]
    fn walks_pages_and_skips_empty_ones() {
        let mut p = Pager::new();
        assert!(matches!(p.step(), Step::Fetch(None)));
        p.feed(RecordsPage {
            records: vec![rec(3), rec(2)],
            next_cursor: Some("c1".into()),
        });
        assert!(matches!(p.step(), Step::Yield(r) if r.id == 3));
        assert!(matches!(p.step(), Step::Yield(r) if r.id == 2));
        assert!(matches!(p.step(), Step::Fetch(Some(c)) if c == "c1"));
        p.feed(RecordsPage {
            records: vec![],
            next_cursor: Some("c2".into()),
        });
        assert!(matches!(p.step(), Step::Fetch(Some(c)) if c == "c2"));
        p.feed(RecordsPage {
            records: vec![rec(1)],
            next_cursor: None,
        });
        assert!(matches!(p.step(), Step::Yield(r) if r.id == 1));
        assert!(matches!(p.step(), Step::Done));
        assert!(matches!(p.step(), Step::Done));
    }

    #[test]
    fn a_failure_ends_the_walk() {
        let mut p = Pager::new();
        assert!(matches!(p.step(), Step::Fetch(None)));
        p.fail();
        assert!(matches!(p.step(), Step::Done));
    }
}

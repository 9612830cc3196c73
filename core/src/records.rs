//! Walks a user's records across keyset pages, newest first. Shared by the async
//! `records_stream`, the blocking `records_iter` and the bindings' record iterators,
//! which differ only in how they fetch a page: which page, of what size, and when the
//! walk ends is decided here.

use crate::model::{Record, RecordsPage};
use crate::Result;
use std::collections::VecDeque;
use std::future::Future;

/// The page size of the bindings' `iter_records` / `records()` when the caller gives none
/// (Rust's `records_stream` and `records_iter` take it as an argument). A walk reads every
/// page, so it asks for fewer, larger ones than `get_records`' default
/// ([`crate::protocol::limits::DEFAULT_RECORDS_LIMIT`]).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// What the walker needs next.
pub enum Step {
    /// Hand out this record.
    Yield(Record),
    /// Fetch the page at this cursor (`None`: the first page), then call [`Pager::feed`].
    Fetch(Option<String>),
    /// Every record was handed out (or a fetch failed).
    Done,
}

/// A resumable walk over one user's record pages: it hands out buffered records and
/// says which page to fetch next.
#[derive(Debug)]
pub struct Pager {
    buffer: VecDeque<Record>,
    /// `Some(cursor)`: another page exists; `None`: no more pages.
    next: Option<Option<String>>,
    started: bool,
    page_size: u32,
}

impl Pager {
    /// A walk fetching pages of `page_size` records (1 to
    /// [`MAX_RECORDS_LIMIT`](crate::protocol::limits::MAX_RECORDS_LIMIT); the first fetch
    /// fails with `invalid_argument` otherwise).
    pub fn new(page_size: u32) -> Pager {
        Pager {
            buffer: VecDeque::new(),
            next: None,
            started: false,
            page_size,
        }
    }

    /// The `limit` of every [`Step::Fetch`].
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// What to do next: hand out a record, fetch a page, or stop. A fetch changes nothing
    /// until its page is fed, so one that never finished (a cancelled `await`, a dropped
    /// future) is asked for again.
    pub fn step(&mut self) -> Step {
        if let Some(r) = self.buffer.pop_front() {
            return Step::Yield(r);
        }
        if !self.started {
            return Step::Fetch(None);
        }
        match &self.next {
            Some(cursor) => Step::Fetch(cursor.clone()),
            None => Step::Done,
        }
    }

    /// The page a [`Step::Fetch`] asked for.
    pub fn feed(&mut self, page: RecordsPage) {
        self.started = true;
        self.buffer.extend(page.records);
        self.next = page.next_cursor.map(Some);
    }

    /// After a failed fetch the walk ends (the error was handed out).
    pub fn fail(&mut self) {
        self.buffer.clear();
        self.next = None;
        self.started = true;
    }

    /// The next record (`None`: the walk ended), fetching pages with `fetch(cursor, limit)`
    /// as [`step`](Pager::step) asks; a failed fetch is handed out once and ends the walk.
    /// Every walker (the async and blocking Rust ones, the bindings') steps the pager here.
    pub async fn next<F, Fut>(&mut self, mut fetch: F) -> Option<Result<Record>>
    where
        F: FnMut(Option<String>, u32) -> Fut,
        Fut: Future<Output = Result<RecordsPage>>,
    {
        loop {
            match self.step() {
                Step::Yield(r) => return Some(Ok(r)),
                Step::Done => return None,
                Step::Fetch(cursor) => {
                    let page = fetch(cursor, self.page_size).await;
                    if let Some(e) = self.take(page) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// [`next`](Pager::next) with a blocking `fetch`.
    pub fn next_blocking<F>(&mut self, mut fetch: F) -> Option<Result<Record>>
    where
        F: FnMut(Option<String>, u32) -> Result<RecordsPage>,
    {
        loop {
            match self.step() {
                Step::Yield(r) => return Some(Ok(r)),
                Step::Done => return None,
                Step::Fetch(cursor) => {
                    let page = fetch(cursor, self.page_size);
                    if let Some(e) = self.take(page) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// Feeds a fetched page, or fails the walk with the fetch's error (returned).
    fn take(&mut self, page: Result<RecordsPage>) -> Option<crate::Error> {
        match page {
            Ok(page) => {
                self.feed(page);
                None
            }
            Err(e) => {
                self.fail();
                Some(e)
            }
        }
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
        let mut p = Pager::new(2);
        assert_eq!(p.page_size(), 2);
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
    fn a_fetch_that_never_finished_is_asked_again() {
        let mut p = Pager::new(2);
        assert!(matches!(p.step(), Step::Fetch(None)));
        assert!(matches!(p.step(), Step::Fetch(None)));
        p.feed(RecordsPage {
            records: vec![rec(2)],
            next_cursor: Some("c1".into()),
        });
        assert!(matches!(p.step(), Step::Yield(r) if r.id == 2));
        assert!(matches!(p.step(), Step::Fetch(Some(c)) if c == "c1"));
        assert!(matches!(p.step(), Step::Fetch(Some(c)) if c == "c1"));
    }

    #[test]
    fn a_failure_ends_the_walk() {
        let mut p = Pager::new(DEFAULT_PAGE_SIZE);
        assert!(matches!(p.step(), Step::Fetch(None)));
        p.fail();
        assert!(matches!(p.step(), Step::Done));
    }
}

//! The operator console: server-rendered pages under `/console/` for the people who run
//! the ledger (find a user, see where their credits went, adjust, reverse, void a hold),
//! behind argon2 passwords, database sessions, CSRF tokens and an audit log.

pub mod password;

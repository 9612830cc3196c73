//! De-duplication references: deterministic, collision-free `external_reference`
//! strings built from parts, always valid for the server.
//! (Skeleton: the SDK issue fills in the bodies.)

/// Builds a reference from parts: `reference(&["task", "42", "2024-01-05"])` → `task_42_2024-01-05`.
/// The separator inside a part is escaped so different part lists never collide; characters
/// outside the server's set are escaped; results over 128 characters become a readable
/// prefix plus a hash.
pub fn reference<S: AsRef<str>>(parts: &[S]) -> String {
    let _ = parts;
    todo!()
}

/// `video_{video_id}` for a user (the guide's "watched a video" reward).
pub fn video_watched(telegram_id: i64, video_id: &str) -> String {
    reference(&["video", video_id, &telegram_id.to_string()])
}

/// `order_{order_id}` (the guide's shop purchase).
pub fn order_paid(order_id: &str) -> String {
    reference(&["order", order_id])
}

/// `task_{task_id}_{date}_{telegram_id}` (the guide's daily task).
pub fn daily_task(telegram_id: i64, task_id: &str, date: &str) -> String {
    reference(&["task", task_id, date, &telegram_id.to_string()])
}

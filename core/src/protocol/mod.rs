//! The wire protocol: every path, header, field name, limit and error code that
//! crosses the network is defined here once. The server, the SDK clients, the
//! bindings and `docs/protocol.md` all take their names from this module.

mod code;
pub mod events;
pub mod fields;
pub mod headers;
pub mod limits;
pub mod messages;
mod parse;
pub mod paths;
mod requests;
mod responses;
#[cfg(feature = "openapi")]
pub mod schema;
mod validation;

pub use code::Code;
pub use events::{
    decode_event_cursor, encode_event_cursor, Event, EventType, EventsResponse, HoldEvent,
    TransferEvent, UserEvent,
};
pub use parse::{item_field, whole_integer};
pub use requests::{
    BatchItem, BatchRequest, CaptureRequest, HoldRequest, RegisterUserRequest, ReverseRequest,
    SyncRequest, TransferRequest, VoidRequest,
};
pub use responses::{
    Balance, BalanceResponse, BatchData, BatchItemResult, BatchResponse, Envelope, Hold, HoldData,
    HoldResponse, HoldState, HoldsResponse, Record, RecordsPage, RecordsResponse, ReverseData,
    ReverseResponse, SyncData, SyncResponse, TransferData, TransferLeg, TransferResponse, UserData,
    UserResponse,
};
pub use validation::{
    is_hold_id, validate_capture, validate_hold, validate_reverse, validate_transfer,
};
pub use validation::{
    is_reference_char, validate_amount, validate_change, validate_nickname, validate_reason,
    validate_reference, validate_telegram_id, FieldError,
};

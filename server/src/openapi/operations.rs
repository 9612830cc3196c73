//! The operations of the document: what each takes, the statuses it answers with and the
//! codes of each status (by the checks its handler runs), its security and its links.

use super::{component, examples, API_KEY_SCHEME, ENVELOPE, ERROR, SIGNATURE_SCHEME};
use credit_sync::protocol::{
    events, fields, headers, paths, schema, BalanceResponse, BatchRequest, CaptureRequest, Code,
    EventsResponse, HoldRequest, HoldsResponse, RecordsResponse, RegisterUserRequest,
    ReverseRequest, SyncRequest, TransferRequest, VoidRequest,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{RefOr, Required};
use utoipa::ToSchema;

/// The cursors the server issues (`ledger::encode_cursor`: `r` and the lower-case hex of a
/// positive i64 record id), or empty for the first page. Any other cursor is refused.
const CURSOR_PATTERN: &str = "^(|r([1-9a-f][0-9a-f]{0,14}|[1-7][0-9a-f]{15}))$";
/// The event feed's cursors (`protocol::encode_event_cursor`: a seq in decimal), or empty.
const EVENT_CURSOR_PATTERN: &str = "^[0-9]{0,18}$";

// Which codes each operation answers with, by the checks it runs (see `routes`).
/// Every route: load shedding (`overload`), a caught panic, the database.
const ANY_ROUTE: &[Code] = &[Code::ServiceUnavailable, Code::InternalError];
/// The caller's key, permission and rate (`App::caller`).
const CALLER: &[Code] = &[Code::Unauthorized, Code::Forbidden, Code::RateLimited];
/// A v2-signed read (`auth::require_v2`).
const SIGNED_READ: &[Code] = &[Code::InvalidSignature, Code::TimestampOutOfWindow];
/// A write's body, source and signature (`json_body`, `from_slice`, `same_source`,
/// `check_write_signature`) and the spending of the signature by the ledger.
const SIGNED_WRITE: &[Code] = &[
    Code::PayloadTooLarge,
    Code::UnsupportedMediaType,
    Code::InvalidJson,
    Code::MissingField,
    Code::InvalidField,
    Code::SourceMismatch,
    Code::SignatureSchemeRefused,
    Code::InvalidSignature,
    Code::TimestampOutOfWindow,
    Code::SignatureReused,
];
/// One change's values (`validate_change`) and the ledger's refusals of it.
const CHANGE: &[Code] = &[
    Code::InvalidTelegramId,
    Code::InvalidAmount,
    Code::AmountTooLarge,
    Code::InvalidReason,
    Code::InvalidReference,
    Code::UserNotFound,
    Code::InsufficientCredits,
    Code::ReferenceConflict,
    Code::BalanceOverflow,
];
/// A hold's values and the ledger's refusals of it.
const HOLD: &[Code] = &[
    Code::InvalidTelegramId,
    Code::InvalidAmount,
    Code::AmountTooLarge,
    Code::InvalidReason,
    Code::InvalidReference,
    Code::UserNotFound,
    Code::InsufficientCredits,
    Code::ReferenceConflict,
    Code::TooManyHolds,
];
/// A capture's or void's values and the ledger's refusals of it.
const RESOLVE: &[Code] = &[
    Code::InvalidAmount,
    Code::AmountTooLarge,
    Code::InvalidReference,
    Code::HoldNotFound,
    Code::HoldResolved,
];
/// A reversal's values and the ledger's refusals of it.
const REVERSE: &[Code] = &[
    Code::InvalidAmount,
    Code::AmountTooLarge,
    Code::InvalidReason,
    Code::InvalidReference,
    Code::RecordNotFound,
    Code::RecordNotReversible,
    Code::ReversalExceedsRecord,
    Code::InsufficientCredits,
    Code::BalanceOverflow,
    Code::ReferenceConflict,
];

/// One operation of the document.
pub(super) struct Op {
    id: &'static str,
    method: HttpMethod,
    path: String,
    summary: &'static str,
    /// The request body's schema, and an example (the examples phase sends it).
    request: Option<(RefOr<Schema>, Value)>,
    /// The 200 answer's description and schema (`None`: not JSON).
    ok: (&'static str, Option<RefOr<Schema>>),
    /// Every code but `ok` it can answer with.
    codes: Vec<Code>,
    signed: bool,
    parameters: Vec<ParameterBuilder>,
    /// Links from the 200 answer: name, operation id, its parameter, the expression.
    links: &'static [Link],
    /// The 200 answer may carry `Idempotent-Replayed`.
    replayed: bool,
}

fn codes(groups: &[&[Code]]) -> Vec<Code> {
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

/// A link: its name, the operation it leads to, that operation's parameter and the
/// runtime expression that fills it.
type Link = (&'static str, &'static str, &'static str, &'static str);

/// A sync or a user registration answers with the user: its balance and records follow.
const USER_LINKS_FROM_DATA: &[Link] = &[
    (
        "balance",
        "balance",
        fields::TELEGRAM_ID,
        "$response.body#/data/telegram_id",
    ),
    (
        "records",
        "records",
        fields::TELEGRAM_ID,
        "$response.body#/data/telegram_id",
    ),
];
/// A new hold: capture or void it, list its user's holds.
const HOLD_LINKS: &[Link] = &[
    (
        "capture",
        "capture_hold",
        fields::HOLD_ID,
        "$response.body#/data/hold/hold_id",
    ),
    (
        "void",
        "void_hold",
        fields::HOLD_ID,
        "$response.body#/data/hold/hold_id",
    ),
    (
        "holds",
        "holds",
        fields::TELEGRAM_ID,
        "$response.body#/data/hold/telegram_id",
    ),
];
pub(super) fn operations() -> Vec<Op> {
    let telegram_id_param = || {
        ParameterBuilder::new()
            .name(fields::TELEGRAM_ID)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema::telegram_id()))
            .example(Some(json!(examples::TELEGRAM_ID)))
    };
    let user_path = |base: &str| format!("{base}/{{{}}}", fields::TELEGRAM_ID);
    let hold_id_param = || {
        ParameterBuilder::new()
            .name(fields::HOLD_ID)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema::hold_id()))
            .example(Some(json!(examples::HOLD_ID)))
    };
    let hold_path = |verb: &str| format!("{}/{{{}}}/{verb}", paths::HOLDS, fields::HOLD_ID);
    vec![
        Op {
            id: "sync",
            method: HttpMethod::Post,
            path: paths::SYNC.into(),
            summary: "Add (amount > 0) or deduct (amount < 0) credits; idempotent per (source, external_reference).",
            request: Some((component(&SyncRequest::name()), example(&examples::sync()))),
            ok: (
                "applied, or replayed (`data.duplicate`, header `Idempotent-Replayed`)",
                Some(component("SyncResponse")),
            ),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, CHANGE]),
            signed: true,
            parameters: vec![],
            links: USER_LINKS_FROM_DATA,
            replayed: true,
        },
        Op {
            id: "batch",
            method: HttpMethod::Post,
            path: paths::BATCH.into(),
            summary: "Apply a batch of changes, each on its own or (atomic) all or none. \
                      Each item's outcome is in `data.results`; `code` is `partial_failure` when one failed.",
            request: Some((component(&BatchRequest::name()), example(&examples::batch()))),
            ok: ("every item's outcome", Some(component("BatchResponse"))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, &[Code::BatchTooLarge]]),
            signed: true,
            parameters: vec![],
            // None: a result may be a refused item, whose telegram_id need not be valid.
            links: &[],
            replayed: false,
        },
        Op {
            id: "balance",
            method: HttpMethod::Get,
            path: user_path(paths::BALANCE),
            summary: "A user's balance.",
            request: None,
            ok: ("the balance", Some(component(&BalanceResponse::name()))),
            codes: codes(&[
                ANY_ROUTE,
                CALLER,
                SIGNED_READ,
                &[Code::InvalidTelegramId, Code::UserNotFound],
            ]),
            signed: true,
            parameters: vec![telegram_id_param()],
            links: &[],
            replayed: false,
        },
        Op {
            id: "records",
            method: HttpMethod::Get,
            path: user_path(paths::RECORDS),
            summary: "A user's records, newest first, keyset-paginated with an opaque cursor.",
            request: None,
            ok: ("one page", Some(component(&RecordsResponse::name()))),
            codes: codes(&[
                ANY_ROUTE,
                CALLER,
                SIGNED_READ,
                &[Code::InvalidTelegramId, Code::InvalidField],
            ]),
            signed: true,
            parameters: vec![
                telegram_id_param(),
                ParameterBuilder::new()
                    .name(fields::LIMIT)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("Records per page."))
                    .schema(Some(schema::records_limit()))
                    .example(Some(json!(5))),
                ParameterBuilder::new()
                    .name(fields::CURSOR)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(
                        "`next_cursor` of the previous page, unchanged; empty or absent for the first page.",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(CURSOR_PATTERN)),
                    )),
            ],
            links: &[],
            replayed: false,
        },
        Op {
            id: "events",
            method: HttpMethod::Get,
            path: paths::EVENTS.into(),
            summary: "The ledger's events after a cursor, oldest first; `wait` long-polls for the next one.",
            request: None,
            ok: ("one page (empty when `wait` passed with no event)", Some(component(&EventsResponse::name()))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_READ, &[Code::InvalidField, Code::CursorExpired]]),
            signed: true,
            parameters: vec![
                ParameterBuilder::new()
                    .name(events::AFTER)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(
                        "`next_cursor` of the previous page, unchanged; absent for the oldest retained event.",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(EVENT_CURSOR_PATTERN)),
                    )),
                ParameterBuilder::new()
                    .name(fields::LIMIT)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("Events per page."))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .maximum(Some(events::MAX_EVENTS_LIMIT))
                            .default(Some(events::DEFAULT_EVENTS_LIMIT.into())),
                    ))
                    .example(Some(json!(10))),
                ParameterBuilder::new()
                    .name(events::WAIT)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(
                        "Seconds to wait for an event when there is none yet (a long poll).",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .maximum(Some(events::MAX_EVENTS_WAIT_SECS))
                            .default(Some(0.into())),
                    ))
                    .example(Some(json!(0))),
            ],
            links: &[],
            replayed: false,
        },
        Op {
            id: "register_user",
            method: HttpMethod::Post,
            path: paths::USERS.into(),
            summary: "Register a user or update the nickname (admin sources only).",
            request: Some((
                component(&RegisterUserRequest::name()),
                example(&examples::register_user()),
            )),
            ok: ("registered or updated", Some(component("UserResponse"))),
            codes: codes(&[
                ANY_ROUTE,
                CALLER,
                SIGNED_WRITE,
                &[Code::InvalidTelegramId, Code::InvalidNickname],
            ]),
            signed: true,
            parameters: vec![],
            links: USER_LINKS_FROM_DATA,
            replayed: false,
        },
        Op {
            id: "place_hold",
            method: HttpMethod::Post,
            path: paths::HOLDS.into(),
            summary: "Reserve credits of the user's available balance until captured, voided or expired (v2 only).",
            request: Some((component(&HoldRequest::name()), example(&examples::hold()))),
            ok: (
                "held, or replayed (`data.duplicate`, header `Idempotent-Replayed`)",
                Some(component("HoldResponse")),
            ),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, HOLD]),
            signed: true,
            parameters: vec![],
            links: HOLD_LINKS,
            replayed: true,
        },
        Op {
            id: "capture_hold",
            method: HttpMethod::Post,
            path: hold_path(paths::CAPTURE),
            summary: "Charge all or part of an open hold (one deduction record) and release the rest (v2 only).",
            request: Some((component(&CaptureRequest::name()), example(&examples::capture()))),
            ok: ("captured, or replayed", Some(component("HoldResponse"))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, RESOLVE]),
            signed: true,
            parameters: vec![hold_id_param()],
            links: &[],
            replayed: true,
        },
        Op {
            id: "void_hold",
            method: HttpMethod::Post,
            path: hold_path(paths::VOID),
            summary: "Release an open hold without charging it (v2 only).",
            request: Some((component(&VoidRequest::name()), example(&examples::void()))),
            ok: ("voided, or replayed", Some(component("HoldResponse"))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, RESOLVE]),
            signed: true,
            parameters: vec![hold_id_param()],
            links: &[],
            replayed: true,
        },
        Op {
            id: "holds",
            method: HttpMethod::Get,
            path: user_path(paths::HOLDS),
            summary: "A user's balance view and open holds, oldest first.",
            request: None,
            ok: ("the open holds", Some(component(&HoldsResponse::name()))),
            codes: codes(&[
                ANY_ROUTE,
                CALLER,
                SIGNED_READ,
                &[Code::InvalidTelegramId, Code::UserNotFound],
            ]),
            signed: true,
            parameters: vec![telegram_id_param()],
            links: &[],
            replayed: false,
        },
        Op {
            id: "reverse",
            method: HttpMethod::Post,
            path: paths::REVERSE.into(),
            summary: "Reverse all or part of a record with a new, linked record (v2 only).",
            request: Some((component(&ReverseRequest::name()), example(&examples::reverse()))),
            ok: ("reversed, or replayed", Some(component("ReverseResponse"))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, REVERSE]),
            signed: true,
            parameters: vec![],
            links: USER_LINKS_FROM_DATA,
            replayed: true,
        },
        Op {
            id: "transfer",
            method: HttpMethod::Post,
            path: paths::TRANSFER.into(),
            summary: "Move credits from one user's available balance to another: two linked records, or none (v2 only).",
            request: Some((component(&TransferRequest::name()), example(&examples::transfer()))),
            ok: ("transferred, or replayed", Some(component("TransferResponse"))),
            codes: codes(&[ANY_ROUTE, CALLER, SIGNED_WRITE, CHANGE]),
            signed: true,
            parameters: vec![],
            links: &[],
            replayed: true,
        },
        Op {
            id: "healthz",
            method: HttpMethod::Get,
            path: paths::HEALTHZ.into(),
            summary: "Health, including the database (unsigned).",
            request: None,
            ok: ("healthy", Some(component(ENVELOPE))),
            codes: ANY_ROUTE.to_vec(),
            signed: false,
            parameters: vec![],
            links: &[],
            replayed: false,
        },
        Op {
            id: "metrics",
            method: HttpMethod::Get,
            path: paths::METRICS.into(),
            summary: "Prometheus text exposition (unsigned).",
            request: None,
            ok: ("metrics", None),
            codes: ANY_ROUTE.to_vec(),
            signed: false,
            parameters: vec![],
            links: &[],
            replayed: false,
        },
        Op {
            id: "openapi",
            method: HttpMethod::Get,
            path: paths::OPENAPI.into(),
            summary: "This document (unsigned).",
            request: None,
            ok: (
                "OpenAPI 3.1",
                Some(ObjectBuilder::new().schema_type(Type::Object).into()),
            ),
            codes: ANY_ROUTE.to_vec(),
            signed: false,
            parameters: vec![],
            links: &[],
            replayed: false,
        },
    ]
}

fn example<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("protocol types serialize")
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::content::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn request_id_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "The request's own X-Request-Id when it sent a valid one, else one the server made.",
        ))
        .build()
}

fn retry_after_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]+$")),
        )
        .description(Some("Seconds to wait before retrying."))
        .build()
}

/// The operation's path, method and definition.
pub(super) fn operation(op: Op) -> (String, HttpMethod, OperationBuilder) {
    let mut ok = ResponseBuilder::new()
        .description(op.ok.0)
        .header(headers::REQUEST_ID, request_id_header());
    ok = match op.ok.1 {
        Some(schema) => ok.content("application/json", json(schema)),
        None => ok.content(
            "text/plain",
            json(ObjectBuilder::new().schema_type(Type::String).into()),
        ),
    };
    if op.replayed {
        ok = ok.header(
            headers::IDEMPOTENT_REPLAYED,
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["true"])),
                )
                .description(Some(
                    "Present (`true`) when this answer replays an applied reference.",
                ))
                .build(),
        );
    }
    for (name, target, parameter, expression) in op.links {
        ok = ok.link(
            *name,
            LinkBuilder::new()
                .operation_id(*target)
                .parameter(*parameter, *expression)
                .description(format!("The {target} of what this answer names."))
                .build(),
        );
    }

    let mut builder = OperationBuilder::new()
        .operation_id(Some(op.id))
        .summary(Some(op.summary))
        .response("200", ok.build());
    for parameter in op.parameters {
        builder = builder.parameter(parameter);
    }
    if let Some((request, example)) = op.request {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(request))
                        .example(Some(example))
                        .build(),
                )
                .build(),
        ));
    }
    if op.signed {
        builder = builder.security(
            SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new())
                .add(SIGNATURE_SCHEME, Vec::<String>::new()),
        );
    }
    let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    for code in op.codes {
        by_status.entry(code.http_status()).or_default().push(code);
    }
    for (status, codes) in by_status {
        let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        let mut response = ResponseBuilder::new()
            .description(names.join(", "))
            .header(headers::REQUEST_ID, request_id_header())
            .content(
                "application/json",
                json(
                    AllOfBuilder::new()
                        .item(component(ERROR))
                        .item(
                            ObjectBuilder::new().property(
                                "code",
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .enum_values(Some(names)),
                            ),
                        )
                        .into(),
                ),
            );
        if status == Code::RateLimited.http_status()
            || status == Code::ServiceUnavailable.http_status()
        {
            response = response.header(headers::RETRY_AFTER, retry_after_header());
        }
        builder = builder.response(status.to_string(), response.build());
    }
    (op.path, op.method, builder)
}

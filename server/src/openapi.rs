//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code. Paths, headers
//! and codes come from `core::protocol`; schemas are derived from the serde form of the
//! core's request and response types, so the spec cannot drift from what is on the wire.

use credit_sync::protocol::{
    fields, headers, limits, paths, Balance, BalanceResponse, BatchData, BatchItem,
    BatchItemResult, BatchRequest, Code, Envelope, Record, RecordsPage, RecordsResponse,
    RegisterUserRequest, SyncData, SyncRequest, UserData,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
    Required,
};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(build()).expect("the OpenAPI document serializes"))
}

const API_KEY_SCHEME: &str = "api_key";
const SIGNATURE_SCHEME: &str = "v2_signature";

fn build() -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                headers::API_KEY,
                "Identifies the source (bot). Required on every API request.",
            ))),
        )
        .security_scheme(
            SIGNATURE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                headers::SIGNATURE,
                "t=<unix seconds>,v2=<hex HMAC-SHA256 of \"{t}\\n{METHOD}\\n{path?query}\\n{hex sha256(body)}\">. \
                 Required on reads; writes may use the v1 body token instead.",
            ))),
        );
    for (name, full, minimal) in schemas() {
        components = components.schema(name, schema_of(&full, Some(&minimal)));
    }

    let write_security = [
        SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new()),
        SecurityRequirement::new(SIGNATURE_SCHEME, Vec::<String>::new()),
    ];
    let read_security = [
        SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new())
            .add(SIGNATURE_SCHEME, Vec::<String>::new()),
    ];

    let paths = PathsBuilder::new()
        .path(
            paths::SYNC,
            PathItem::new(
                HttpMethod::Post,
                write_op(
                    "sync",
                    "Add (amount > 0) or deduct (amount < 0) credits; idempotent per (source, external_reference).",
                    "SyncRequest",
                    "SyncResponse",
                    &write_security,
                ),
            ),
        )
        .path(
            paths::BATCH,
            PathItem::new(
                HttpMethod::Post,
                write_op(
                    "batch",
                    "Apply up to 1,000 changes, each on its own or (atomic) all or none.",
                    "BatchRequest",
                    "BatchResponse",
                    &write_security,
                ),
            ),
        )
        .path(
            format!("{}/{{{}}}", paths::BALANCE, fields::TELEGRAM_ID),
            PathItem::new(
                HttpMethod::Get,
                read_op(
                    "balance",
                    "A user's balance; 404 user_not_found for an unknown user.",
                    "BalanceResponse",
                    &read_security,
                    false,
                ),
            ),
        )
        .path(
            format!("{}/{{{}}}", paths::RECORDS, fields::TELEGRAM_ID),
            PathItem::new(
                HttpMethod::Get,
                read_op(
                    "records",
                    "A user's records, newest first, keyset-paginated with an opaque cursor.",
                    "RecordsResponse",
                    &read_security,
                    true,
                ),
            ),
        )
        .path(
            paths::USERS,
            PathItem::new(
                HttpMethod::Post,
                write_op(
                    "register_user",
                    "Register a user or update the nickname (admin sources only).",
                    "RegisterUserRequest",
                    "UserResponse",
                    &write_security,
                ),
            ),
        )
        .path(
            paths::HEALTHZ,
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .operation_id(Some("healthz"))
                    .summary(Some("Health, including the database."))
                    .response("200", json_response("healthy", "ErrorResponse"))
                    .response("503", json_response("database unavailable", "ErrorResponse")),
            ),
        )
        .path(
            paths::METRICS,
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .operation_id(Some("metrics"))
                    .summary(Some("Prometheus text exposition."))
                    .response(
                        "200",
                        ResponseBuilder::new().description("metrics").content(
                            "text/plain",
                            ContentBuilder::new()
                                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                                .build(),
                        ),
                    ),
            ),
        )
        .path(
            paths::OPENAPI,
            PathItem::new(
                HttpMethod::Get,
                OperationBuilder::new()
                    .operation_id(Some("openapi"))
                    .summary(Some("This document."))
                    .response("200", ResponseBuilder::new().description("OpenAPI 3.1")),
            ),
        );

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Credit Sync API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Cross-project credit sync for Telegram bots. The written contract is docs/protocol.md.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

fn component(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn json_response(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(component(schema)))
            .build(),
    )
}

fn error_responses(op: OperationBuilder) -> OperationBuilder {
    op.response(
        "default",
        json_response(
            "An error: `code` says which (see docs/protocol.md); nothing was written.",
            "ErrorResponse",
        ),
    )
}

fn write_op(
    id: &str,
    summary: &str,
    request: &str,
    response: &str,
    security: &[SecurityRequirement],
) -> OperationBuilder {
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .summary(Some(summary))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(component(request)))
                        .build(),
                )
                .build(),
        ))
        .response(
            "200",
            json_response("applied, or replayed (`data.duplicate`)", response),
        );
    for requirement in security {
        op = op.security(requirement.clone());
    }
    error_responses(op)
}

fn read_op(
    id: &str,
    summary: &str,
    response: &str,
    security: &[SecurityRequirement],
    paginated: bool,
) -> OperationBuilder {
    let int64 = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
    };
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .summary(Some(summary))
        .parameter(
            ParameterBuilder::new()
                .name(fields::TELEGRAM_ID)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(int64())),
        )
        .response("200", json_response("ok", response));
    if paginated {
        op = op
            .parameter(
                ParameterBuilder::new()
                    .name(fields::LIMIT)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(format!(
                        "1..={} (default {})",
                        limits::MAX_RECORDS_LIMIT,
                        limits::DEFAULT_RECORDS_LIMIT
                    )))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer))),
            )
            .parameter(
                ParameterBuilder::new()
                    .name(fields::CURSOR)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("`next_cursor` of the previous page"))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
    }
    for requirement in security {
        op = op.security(requirement.clone());
    }
    error_responses(op)
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("protocol types serialize")
}

fn envelope<T: Serialize>(data: Option<T>, balance: Option<i64>) -> Value {
    value(&Envelope {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        balance,
        data,
        field: None,
        fields: None,
        server_time: None,
    })
}

/// (name, a value with every optional part filled, the same with every optional part empty).
fn schemas() -> Vec<(&'static str, Value, Value)> {
    let sync_full = SyncRequest {
        telegram_id: 123456789,
        amount: 100,
        source: "media_bot".into(),
        reason: "reward for watching a video".into(),
        timestamp: Some(1_700_000_000),
        token: Some("1b8cb0674014a1e29c6de19db999e22bf85dfce59f8ce639fb1a8f5630d855c7".into()),
        external_reference: Some("video_12345".into()),
    };
    let sync_min = SyncRequest {
        timestamp: None,
        token: None,
        external_reference: None,
        ..sync_full.clone()
    };
    let item_full = BatchItem {
        telegram_id: 123456,
        amount: 1000,
        reason: "campaign 1st place".into(),
        external_reference: Some("camp_1_1".into()),
        token: Some("…".into()),
    };
    let item_min = BatchItem {
        external_reference: None,
        token: None,
        ..item_full.clone()
    };
    let batch_full = BatchRequest {
        source: "media_bot".into(),
        items: vec![item_full],
        atomic: false,
        timestamp: Some(1_700_000_000),
    };
    let batch_min = BatchRequest {
        items: vec![item_min],
        timestamp: None,
        ..batch_full.clone()
    };
    let user_full = RegisterUserRequest {
        telegram_id: 123456789,
        nickname: Some("alice".into()),
        source: Some("media_bot".into()),
        timestamp: Some(1_700_000_000),
        token: Some("…".into()),
    };
    let user_min = RegisterUserRequest {
        telegram_id: 123456789,
        nickname: None,
        source: None,
        timestamp: None,
        token: None,
    };
    let sync_data = SyncData {
        record_id: 12,
        telegram_id: 123456789,
        change: 50,
        balance: 150,
        duplicate: false,
    };
    let result_full = BatchItemResult {
        index: 0,
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        telegram_id: 123456,
        change: 1000,
        balance: Some(1000),
        record_id: Some(13),
        duplicate: false,
        external_reference: Some("camp_1_1".into()),
        field: Some(fields::AMOUNT.into()),
    };
    let result_min = BatchItemResult {
        balance: None,
        record_id: None,
        external_reference: None,
        field: None,
        ..result_full.clone()
    };
    let batch_data = |result: BatchItemResult| BatchData {
        success: 1,
        failed: 0,
        results: vec![result],
    };
    let balance = Balance {
        telegram_id: 123456789,
        credits: 150,
        nickname: Some("alice".into()),
    };
    let balance_full = BalanceResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        balance: balance.clone(),
    };
    let balance_min = BalanceResponse {
        balance: Balance {
            nickname: None,
            ..balance
        },
        ..balance_full.clone()
    };
    let record = Record {
        id: 12,
        change: 50,
        balance_after: 150,
        reason: "reward".into(),
        source: "media_bot".into(),
        external_reference: Some("video_12345".into()),
        created_at: "2026-11-25T11:20:49.123Z".into(),
    };
    let records_full = RecordsResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        page: RecordsPage {
            records: vec![record.clone()],
            next_cursor: Some(crate::ledger::encode_cursor(12)),
        },
    };
    let records_min = RecordsResponse {
        page: RecordsPage {
            records: vec![Record {
                external_reference: None,
                ..record
            }],
            next_cursor: None,
        },
        ..records_full.clone()
    };
    let user_data = |nickname: Option<String>| UserData {
        telegram_id: 123456789,
        credits: 0,
        nickname,
        created: true,
    };
    let error_full: Envelope<Value> = Envelope {
        success: false,
        code: Code::ReferenceConflict,
        message: "external_reference was already used with a different amount".into(),
        balance: Some(100),
        data: None,
        field: Some(fields::AMOUNT.into()),
        fields: Some(vec![fields::AMOUNT.into()]),
        server_time: Some(1_700_000_000),
    };
    let error_min: Envelope<Value> = Envelope {
        balance: None,
        field: None,
        fields: None,
        ..error_full.clone()
    };
    vec![
        ("SyncRequest", value(&sync_full), value(&sync_min)),
        ("BatchRequest", value(&batch_full), value(&batch_min)),
        ("RegisterUserRequest", value(&user_full), value(&user_min)),
        (
            "SyncResponse",
            envelope(Some(sync_data.clone()), Some(150)),
            envelope(Some(sync_data), Some(150)),
        ),
        (
            "BatchResponse",
            envelope(Some(batch_data(result_full)), None),
            envelope(Some(batch_data(result_min)), None),
        ),
        ("BalanceResponse", value(&balance_full), value(&balance_min)),
        ("RecordsResponse", value(&records_full), value(&records_min)),
        (
            "UserResponse",
            envelope(Some(user_data(Some("alice".into()))), Some(0)),
            envelope(Some(user_data(None)), Some(0)),
        ),
        (
            "ErrorResponse",
            {
                let mut v = value(&error_full);
                v["data"] = json!({});
                v
            },
            value(&error_min),
        ),
    ]
}

/// The JSON Schema of `full`; a key absent from `minimal` is optional, a key that is
/// `null` there is nullable.
fn schema_of(full: &Value, minimal: Option<&Value>) -> RefOr<Schema> {
    let nullable = minimal.is_some_and(Value::is_null);
    let with_null = |t: Type| -> SchemaType {
        if nullable {
            SchemaType::from_iter([t, Type::Null])
        } else {
            SchemaType::new(t)
        }
    };
    let schema: Schema = match full {
        Value::Null => ObjectBuilder::new().schema_type(Type::Null).into(),
        Value::Bool(_) => ObjectBuilder::new()
            .schema_type(with_null(Type::Boolean))
            .into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => ObjectBuilder::new()
            .schema_type(with_null(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .into(),
        Value::Number(_) => ObjectBuilder::new()
            .schema_type(with_null(Type::Number))
            .into(),
        Value::String(_) => ObjectBuilder::new()
            .schema_type(with_null(Type::String))
            .into(),
        Value::Array(items) => {
            let first = items.first().unwrap_or(&Value::Null);
            let first_min = minimal.and_then(|m| m.as_array()).and_then(|a| a.first());
            ArrayBuilder::new()
                .items(schema_of(first, first_min))
                .into()
        }
        Value::Object(map) => {
            let mut object = ObjectBuilder::new().schema_type(with_null(Type::Object));
            for (key, sub) in map {
                let sub_min = minimal.and_then(|m| m.get(key));
                let property = if key == "code" {
                    codes_schema()
                } else {
                    schema_of(sub, sub_min)
                };
                object = object.property(key, property);
                if sub_min.is_some() {
                    object = object.required(key);
                }
            }
            object.into()
        }
    };
    RefOr::T(schema)
}

/// `code` is one of the protocol's stable strings that a server sends.
fn codes_schema() -> RefOr<Schema> {
    RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(
                Code::ALL
                    .iter()
                    .filter(|c| c.sent_by_server())
                    .map(|c| c.as_str()),
            ))
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_path_and_schema() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [paths::SYNC, paths::BATCH, paths::USERS, paths::HEALTHZ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let sync = &doc["components"]["schemas"]["SyncRequest"];
        let required: Vec<&str> = sync["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["amount", "reason", "source", "telegram_id"]);
        let balance = &doc["components"]["schemas"]["BalanceResponse"]["properties"];
        assert_eq!(balance["nickname"]["type"], json!(["string", "null"]));
        assert!(
            doc["components"]["schemas"]["ErrorResponse"]["properties"]["code"]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("insufficient_credits"))
        );
    }
}

//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code. The schemas are
//! the core's `ToSchema` derives (feature `openapi`), which carry every limit of
//! `protocol::limits`; paths, headers and codes come from `core::protocol`; each operation
//! lists the statuses its checks answer with, and which codes each status carries.
//! `tests/schemathesis` holds the server to it.

use credit_sync::protocol::{
    fields, headers, paths, schema, BalanceResponse, BatchData, BatchItem, BatchRequest, Code,
    Envelope, RecordsResponse, RegisterUserRequest, SyncData, SyncRequest, UserData,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
    Required,
};
use utoipa::{PartialSchema, ToSchema};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(build()).expect("the OpenAPI document serializes");
        finish_responses(&mut doc);
        doc
    })
}

const API_KEY_SCHEME: &str = "api_key";
const SIGNATURE_SCHEME: &str = "v2_signature";

/// The envelope every write and every error shares (`data` is the write's payload).
const ENVELOPE: &str = "Envelope";
const ERROR: &str = "ErrorResponse";

/// The cursors the server issues (`ledger::encode_cursor`: `r` and the lower-case hex of a
/// positive i64 record id), or empty for the first page. Any other cursor is refused.
const CURSOR_PATTERN: &str = "^(|r([1-9a-f][0-9a-f]{0,14}|[1-7][0-9a-f]{15}))$";

// Which codes each operation answers with, by the checks it runs (see `routes`).
/// Every route: load shedding (`overload`), a caught panic, the database.
const ANY_ROUTE: &[Code] = &[Code::ServiceUnavailable, Code::InternalError];
/// The caller's key, permission and rate (`App::caller`).
const CALLER: &[Code] = &[Code::Unauthorized, Code::Forbidden, Code::RateLimited];
/// A v2-signed read (`auth::require_v2`).
const SIGNED_READ: &[Code] = &[Code::InvalidSignature, Code::TimestampOutOfWindow];
/// A write's body, source and signature (`json_body`, `from_json`, `same_source`,
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

/// One operation of the document.
struct Op {
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
    /// Links from the 200 answer: name, operation id, `telegram_id` expression.
    links: &'static [(&'static str, &'static str, &'static str)],
    /// The 200 answer may carry `Idempotent-Replayed`.
    replayed: bool,
}

fn codes(groups: &[&[Code]]) -> Vec<Code> {
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A sync or a user registration answers with the user: its balance and records follow.
const USER_LINKS_FROM_DATA: &[(&str, &str, &str)] = &[
    ("balance", "balance", "$response.body#/data/telegram_id"),
    ("records", "records", "$response.body#/data/telegram_id"),
];
fn operations() -> Vec<Op> {
    let telegram_id_param = || {
        ParameterBuilder::new()
            .name(fields::TELEGRAM_ID)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema::telegram_id()))
            .example(Some(json!(examples::TELEGRAM_ID)))
    };
    let user_path = |base: &str| format!("{base}/{{{}}}", fields::TELEGRAM_ID);
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

fn build() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for op in operations() {
        let path = op.path.clone();
        let method = op.method.clone();
        paths = paths.path(path, PathItem::new(method, operation(op)));
    }
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
        .components(Some(components()))
        .build()
}

fn components() -> utoipa::openapi::Components {
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
                "v2: `t=<unix seconds>,v2=<hex HMAC-SHA256 of \"{t}\\n{METHOD}\\n{path?query}\\n{hex sha256(body)}\">` \
                 with the source's secret (docs/protocol.md, \"v2 signature\"). Required on reads. \
                 A write may carry the guide's v1 `token` and `timestamp` in its body instead, \
                 where the source's `signatures` setting allows v1.",
            ))),
        );
    let mut named: Vec<(String, RefOr<Schema>)> = Vec::new();
    register::<SyncRequest>(&mut named);
    register::<BatchRequest>(&mut named);
    register::<BatchItem>(&mut named);
    named.push((schema::BATCH_ITEM_SHAPE.into(), schema::batch_item_shape()));
    register::<RegisterUserRequest>(&mut named);
    register::<SyncData>(&mut named);
    register::<BatchData>(&mut named);
    register::<UserData>(&mut named);
    register::<BalanceResponse>(&mut named);
    register::<RecordsResponse>(&mut named);
    // `data` of the plain envelope: any value but `null` (which its `oneOf` lists apart).
    named.push((
        Value::name().into(),
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([
                Type::Object,
                Type::Array,
                Type::String,
                Type::Number,
                Type::Boolean,
            ]))
            .into(),
    ));
    // The envelope's instances, by what they answer.
    named.push(("SyncResponse".into(), Envelope::<SyncData>::schema()));
    named.push(("BatchResponse".into(), Envelope::<BatchData>::schema()));
    named.push(("UserResponse".into(), Envelope::<UserData>::schema()));
    named.push((ENVELOPE.into(), Envelope::<Value>::schema()));
    named.push((ERROR.into(), error_schema()));
    for (name, schema) in named {
        components = components.schema(name, schema);
    }
    components.build()
}

fn example<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("protocol types serialize")
}

/// The request examples: the guide's quick start, as the core's types.
mod examples {
    use credit_sync::protocol::{BatchItem, BatchRequest, RegisterUserRequest, SyncRequest};

    pub const TELEGRAM_ID: i64 = 123_456_789;
    const SOURCE: &str = "media_bot";

    pub fn sync() -> SyncRequest {
        SyncRequest {
            telegram_id: TELEGRAM_ID,
            amount: 100,
            source: SOURCE.into(),
            reason: "reward for watching a video".into(),
            timestamp: None,
            token: None,
            external_reference: Some("video_12345".into()),
        }
    }

    pub fn batch() -> BatchRequest {
        let item = |telegram_id, amount, reference: &str| BatchItem {
            telegram_id,
            amount,
            reason: "campaign prize".into(),
            external_reference: Some(reference.into()),
            token: None,
        };
        BatchRequest {
            source: SOURCE.into(),
            items: vec![
                item(TELEGRAM_ID, 1000, "camp_1_1"),
                item(987_654_321, 500, "camp_1_2"),
            ],
            atomic: false,
            timestamp: None,
        }
    }

    pub fn register_user() -> RegisterUserRequest {
        RegisterUserRequest {
            telegram_id: TELEGRAM_ID,
            nickname: Some("alice".into()),
            source: Some(SOURCE.into()),
            timestamp: None,
            token: None,
        }
    }
}

/// `T` under its name, and the schemas it refers to.
fn register<T: ToSchema>(named: &mut Vec<(String, RefOr<Schema>)>) {
    named.push((T::name().into(), T::schema()));
    T::schemas(named);
}

/// An error: the envelope with `success: false`, no `data`, and the server's clock.
fn error_schema() -> RefOr<Schema> {
    AllOfBuilder::new()
        .item(component(ENVELOPE))
        .item(
            ObjectBuilder::new()
                .property(
                    "success",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([false])),
                )
                .property("data", ObjectBuilder::new().schema_type(Type::Null))
                .required("server_time"),
        )
        .description(Some(
            "An error: `code` says which (docs/protocol.md); `field` names the bad input, \
             `fields` the differences of a `reference_conflict`, `balance` the balance of an \
             `insufficient_credits`.",
        ))
        .into()
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

fn operation(op: Op) -> OperationBuilder {
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
    for (name, target, telegram_id) in op.links {
        ok = ok.link(
            *name,
            LinkBuilder::new()
                .operation_id(*target)
                .parameter(fields::TELEGRAM_ID, *telegram_id)
                .description(format!("The {target} of the user this answer names."))
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
    builder
}

/// What utoipa 5 cannot say: a response header's `required` (its `Header` has no such
/// field), and a link's `operationId` (its `Link` serializes as `operation_id`).
fn finish_responses(doc: &mut Value) {
    let responses = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.iter_mut());
    for (status, response) in responses {
        let always = [
            Some(headers::REQUEST_ID),
            (status == &Code::RateLimited.http_status().to_string())
                .then_some(headers::RETRY_AFTER),
        ];
        for name in always.into_iter().flatten() {
            if let Some(header) = response
                .get_mut("headers")
                .and_then(|headers| headers.get_mut(name))
            {
                header["required"] = json!(true);
            }
        }
        let links = response
            .get_mut("links")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|links| links.values_mut())
            .filter_map(Value::as_object_mut);
        for link in links {
            if let Some(id) = link.remove("operation_id") {
                link.insert("operationId".into(), id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_sync::protocol::limits;

    fn doc() -> &'static Value {
        document()
    }

    #[test]
    fn the_document_names_every_path_and_schema() {
        let doc = doc();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [paths::SYNC, paths::BATCH, paths::USERS, paths::HEALTHZ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let sync = &doc["components"]["schemas"]["SyncRequest"];
        let mut required: Vec<&str> = sync["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(required, ["amount", "reason", "source", "telegram_id"]);
        assert!(doc["components"]["schemas"]["Code"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("insufficient_credits")));
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        out.push(target);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(doc(), &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                doc()["components"]["schemas"][name].is_object(),
                "{target} is not in the document"
            );
        }
    }

    #[test]
    fn every_limit_reaches_the_document() {
        let schemas = &doc()["components"]["schemas"];
        let sync = &schemas["SyncRequest"]["properties"];
        assert_eq!(sync["telegram_id"]["minimum"], json!(1));
        let ranges = sync["amount"]["oneOf"].as_array().unwrap();
        assert_eq!(ranges[0]["minimum"], json!(-limits::DEFAULT_MAX_AMOUNT));
        assert_eq!(ranges[0]["maximum"], json!(-1));
        assert_eq!(ranges[1]["minimum"], json!(1));
        assert_eq!(ranges[1]["maximum"], json!(limits::DEFAULT_MAX_AMOUNT));
        assert_eq!(sync["reason"]["maxLength"], json!(limits::MAX_REASON_CHARS));
        let reference = &sync["external_reference"];
        assert_eq!(reference["minLength"], json!(1));
        assert_eq!(reference["maxLength"], json!(limits::MAX_REFERENCE_CHARS));
        assert!(reference["pattern"].as_str().unwrap().starts_with("^["));
        let items = &schemas["BatchRequest"]["properties"]["items"];
        assert_eq!(items["minItems"], json!(1));
        assert_eq!(items["maxItems"], json!(limits::MAX_BATCH_ITEMS));
        let user = &schemas["RegisterUserRequest"]["properties"];
        assert_eq!(
            user["nickname"]["maxLength"],
            json!(limits::MAX_NICKNAME_CHARS)
        );
        let records = &doc()["paths"][format!("{}/{{telegram_id}}", paths::RECORDS)]["get"];
        let limit = records["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == fields::LIMIT)
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], json!(limits::MAX_RECORDS_LIMIT));
    }

    #[test]
    fn each_status_lists_its_codes_and_reads_require_both_schemes() {
        let sync = &doc()["paths"][paths::SYNC]["post"];
        let codes_of = |status: &str| {
            sync["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
                ["properties"]["code"]["enum"]
                .clone()
        };
        assert_eq!(
            codes_of("409"),
            json!(["insufficient_credits", "reference_conflict"])
        );
        assert!(codes_of("401")
            .as_array()
            .unwrap()
            .contains(&json!("signature_reused")));
        assert_eq!(codes_of("413"), json!(["payload_too_large"]));
        assert_eq!(
            sync["security"],
            json!([{API_KEY_SCHEME: [], SIGNATURE_SCHEME: []}])
        );
        assert_eq!(
            sync["responses"]["429"]["headers"][headers::RETRY_AFTER]["required"],
            json!(true)
        );
        assert_eq!(
            sync["responses"]["200"]["links"]["balance"]["operationId"],
            json!("balance")
        );
        let health = &doc()["paths"][paths::HEALTHZ]["get"];
        assert!(health.get("security").is_none());
    }

    /// The pattern of a property of a request schema, anchored as JSON Schema reads it.
    fn pattern(schema: &str, property: &str) -> regex::Regex {
        let text = doc()["components"]["schemas"][schema]["properties"][property]["pattern"]
            .as_str()
            .unwrap();
        regex::Regex::new(text).unwrap()
    }

    #[test]
    fn the_patterns_accept_what_the_validators_accept() {
        use credit_sync::protocol::{
            is_reference_char, limits, validate_reason, validate_reference,
        };
        let reference = pattern("SyncRequest", "external_reference");
        let reason = pattern("SyncRequest", "reason");
        for c in (0..=0x2FFF).filter_map(char::from_u32) {
            let one = c.to_string();
            assert_eq!(reference.is_match(&one), is_reference_char(c), "{c:?}");
            assert_eq!(
                reason.is_match(&one),
                validate_reason(&one).is_ok(),
                "{c:?}"
            );
        }
        let longest = "a".repeat(limits::MAX_REFERENCE_CHARS);
        assert!(reference.is_match(&longest) && validate_reference(&longest).is_ok());
    }

    #[test]
    fn the_cursor_pattern_is_the_issued_cursors() {
        let records = &doc()["paths"][format!("{}/{{telegram_id}}", paths::RECORDS)]["get"];
        let cursor = records["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == fields::CURSOR)
            .unwrap();
        let pattern = regex::Regex::new(cursor["schema"]["pattern"].as_str().unwrap()).unwrap();
        let issued = |text: &str| {
            crate::ledger::decode_cursor(text)
                .is_some_and(|id| crate::ledger::encode_cursor(id) == text)
        };
        for id in [
            1,
            9,
            10,
            42,
            0xfff_ffff_ffff_ffff,
            0x1000_0000_0000_0000,
            i64::MAX,
        ] {
            let text = crate::ledger::encode_cursor(id);
            assert!(pattern.is_match(&text) && issued(&text), "{text}");
        }
        for text in [
            "r0",
            "r01",
            "rA",
            "R1",
            "r+1",
            "r-1",
            "r",
            "r8000000000000000",
            "r10000000000000000",
            "1",
            "r1 ",
            "x1",
        ] {
            assert!(!pattern.is_match(text) && !issued(text), "{text}");
        }
        assert!(pattern.is_match(""), "empty: the first page");
    }
}

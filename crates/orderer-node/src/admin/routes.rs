//! The routes of `/participation/v1/`, answering as Fabric's `channelparticipation`
//! HTTP handler does behind Go's `ServeMux` and gorilla's router: same statuses,
//! headers, content types and error bodies, so `osnadmin` output matches.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use orderer_api::channelconfig::{
    ChannelValues, MAX_NAME_LEN, check_channel_id, read_config_block,
};
use orderer_api::proto::common::Block;
use prost::Message;
use serde::Serialize;
use tracing::{debug, info};

use super::multipart::{parse_form, parse_media_type};
use super::types::{ChannelKind, JoinBlock, ParticipationError};
use super::{Api, CONFIG_BLOCK_PART};

/// What Fabric's handler is mounted on.
pub(crate) const BASE: &str = "/participation/v1/";
/// The channels collection.
pub(crate) const CHANNELS: &str = "/participation/v1/channels";

/// How long a client may take to send a join request's body (Go's `ReadTimeout` in
/// Fabric's admin server).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type Reply = Response<Full<Bytes>>;

/// Answers one request. `authenticated`: the connection carries a verified client
/// certificate, or TLS is off.
pub(crate) async fn handle<B>(api: &Api, req: Request<B>, authenticated: bool) -> Reply
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_owned();
    // Go's ServeMux: the subtree root without its slash redirects, paths outside
    // the subtree are not found.
    if path == BASE.trim_end_matches('/') {
        return redirect(
            StatusCode::TEMPORARY_REDIRECT,
            BASE,
            "Temporary Redirect",
            req.method(),
        );
    }
    let Some(rest) = path.strip_prefix(BASE) else {
        return not_found();
    };
    let mut reply = route(api, req, rest, authenticated).await;
    // Fabric's WithRequestID middleware tags everything under the subtree.
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        reply.headers_mut().insert("x-request-id", id);
    }
    reply
}

async fn route<B>(api: &Api, req: Request<B>, rest: &str, authenticated: bool) -> Reply
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !authenticated {
        // Fabric's RequireCert middleware: status only.
        return empty(StatusCode::UNAUTHORIZED);
    }
    if !api.settings.enabled {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "channel participation API is disabled",
        );
    }
    let method = req.method().clone();
    match rest {
        "" if method == Method::GET => redirect(StatusCode::FOUND, CHANNELS, "Found", &method),
        "" => {
            let mut reply = empty(StatusCode::METHOD_NOT_ALLOWED);
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            reply
        }
        "channels" => match method {
            Method::GET => list(api, &req),
            Method::POST if is_multipart(&req) => join(api, req).await,
            Method::POST => {
                let types: Vec<_> = req
                    .headers()
                    .get_all(header::CONTENT_TYPE)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("unsupported Content-Type: [{}]", types.join(" ")),
                )
            }
            m => not_allowed(&m, "GET, POST"),
        },
        _ => match rest.strip_prefix("channels/") {
            Some(channel) if !channel.is_empty() && !channel.contains('/') => match method {
                Method::GET => info(api, &req, channel),
                Method::DELETE => remove(api, &req, channel).await,
                m => not_allowed(&m, "GET, DELETE"),
            },
            _ => not_found(),
        },
    }
}

fn list<B>(api: &Api, req: &Request<B>) -> Reply {
    if let Some(reply) = refuse_accept(req) {
        return reply;
    }
    let mut list = api.participation.list();
    if let Some(system) = &mut list.system_channel {
        system.url = channel_url(&system.name);
    }
    for channel in &mut list.channels {
        channel.url = channel_url(&channel.name);
    }
    list.channels.sort_by(|a, b| a.name.cmp(&b.name));
    no_store(json(StatusCode::OK, &list))
}

fn info<B>(api: &Api, req: &Request<B>, channel: &str) -> Reply {
    if let Some(reply) = refuse_accept(req) {
        return reply;
    }
    if let Some(reply) = refuse_channel_id(channel) {
        return reply;
    }
    match api.participation.info(channel) {
        Ok(mut info) => {
            info.url = channel_url(&info.name);
            no_store(json(StatusCode::OK, &info))
        }
        Err(e @ (ParticipationError::NotFound | ParticipationError::PendingRemoval)) => {
            error(StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e) => participation_error(&e, None),
    }
}

async fn remove<B>(api: &Api, req: &Request<B>, channel: &str) -> Reply {
    if let Some(reply) = refuse_accept(req) {
        return reply;
    }
    if let Some(reply) = refuse_channel_id(channel) {
        return reply;
    }
    match api.participation.remove(channel).await {
        Ok(()) => {
            info!(channel, "channel removed through the participation API");
            empty(StatusCode::NO_CONTENT)
        }
        Err(e) => {
            debug!(channel, error = %e, "channel removal refused");
            // Removal of an existing channel is refused with Allow: GET (system
            // channel), never GET, DELETE.
            let e = match e {
                ParticipationError::AlreadyExists => ParticipationError::BadRequest(e.to_string()),
                e => e,
            };
            participation_error(&e, Some("cannot remove"))
        }
    }
}

async fn join<B>(api: &Api, req: Request<B>) -> Reply
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(reply) = refuse_accept(&req) {
        return reply;
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media = match parse_media_type(&content_type) {
        Ok(m) => m,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot parse Mime media type: {e}"),
            );
        }
    };
    let bad_form = |why: &str| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("cannot read form from request body: {why}"),
        )
    };
    let Some(boundary) = media.param("boundary").map(str::to_owned) else {
        return bad_form("multipart: boundary is empty");
    };
    let limited = Limited::new(req.into_body(), api.settings.max_request_body_size);
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return bad_form(&format!(
                "http: request body too large (ChannelParticipation.MaxRequestBodySize is {} bytes)",
                api.settings.max_request_body_size
            ));
        }
        Ok(Err(e)) => return bad_form(&e.to_string()),
        Err(_) => {
            return bad_form(&format!(
                "the body did not arrive within {BODY_READ_TIMEOUT:?}"
            ));
        }
    };
    let parts = match parse_form(&body, &boundary) {
        Ok(p) => p,
        Err(e) => return bad_form(&e.to_string()),
    };
    let mut files = parts.iter().filter(|p| p.filename.is_some());
    let Some(block_part) = files.clone().find(|p| p.name == CONFIG_BLOCK_PART) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("form does not contains part key: {CONFIG_BLOCK_PART}"),
        );
    };
    let values_present = parts.iter().any(|p| p.filename.is_none());
    if values_present || files.any(|p| p.name != CONFIG_BLOCK_PART) {
        return error(StatusCode::BAD_REQUEST, "form contains too many parts");
    }
    let bytes = block_part.data.clone();
    let block = match Block::decode(bytes.clone()) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot unmarshal file part {CONFIG_BLOCK_PART} into a block: {e}"),
            );
        }
    };
    let join = match validate_join_block(block, bytes) {
        Ok(j) => j,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, &format!("invalid join block: {e}"));
        }
    };
    let channel = join.channel_id.clone();
    match api.participation.join(join).await {
        Ok(mut info) => {
            info.url = channel_url(&info.name);
            info!(channel = %info.name, height = info.height, "channel joined through the participation API");
            let mut reply = json(StatusCode::CREATED, &info);
            if let Ok(location) = HeaderValue::from_str(&info.url) {
                reply.headers_mut().insert(header::LOCATION, location);
            }
            reply
        }
        Err(e) => {
            debug!(%channel, error = %e, "channel join refused");
            participation_error(&e, Some("cannot join"))
        }
    }
}

/// Fabric's `ValidateJoinBlock`: a config block with a valid channel configuration
/// that makes an application channel or a system channel.
pub fn validate_join_block(block: Block, bytes: Bytes) -> Result<JoinBlock, String> {
    let tx = read_config_block(&block).map_err(|e| format!("block is not a config block: {e}"))?;
    let values = ChannelValues::from_config_tx(tx).map_err(|e| e.to_string())?;
    let kind = if values.consortiums().is_some() {
        ChannelKind::System
    } else if values.application().is_some() {
        ChannelKind::Application
    } else {
        return Err("invalid config: must have at least one of application or consortiums".into());
    };
    Ok(JoinBlock {
        channel_id: values.channel_id().to_owned(),
        kind,
        bytes,
        block,
        values,
    })
}

/// gorilla's `HeadersRegexp("Content-Type", "multipart/form-data*")`: an unanchored
/// match, so any value containing `multipart/form-dat`.
fn is_multipart<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(header::CONTENT_TYPE)
        .iter()
        .any(|v| v.as_bytes().windows(18).any(|w| w == b"multipart/form-dat"))
}

/// Fabric answers only `application/json`: a request whose `Accept` allows none of
/// it gets 406 (the reply returned here).
fn refuse_accept<B>(req: &Request<B>) -> Option<Reply> {
    let accept = req.headers().get(header::ACCEPT)?;
    let accept = String::from_utf8_lossy(accept.as_bytes());
    if accept.is_empty()
        || accept.split(',').any(|o| {
            o.contains("application/json") || o.contains("application/*") || o.contains("*/*")
        })
    {
        return None;
    }
    Some(error(
        StatusCode::NOT_ACCEPTABLE,
        "response Content-Type is application/json only",
    ))
}

fn refuse_channel_id(channel: &str) -> Option<Reply> {
    // Fabric's wording (configtx.ValidateChannelID), our rule.
    let why = if channel.is_empty() {
        "channel ID illegal, cannot be empty".to_owned()
    } else if channel.len() > MAX_NAME_LEN {
        format!("channel ID illegal, cannot be longer than {MAX_NAME_LEN}")
    } else if check_channel_id(channel).is_err() {
        format!("'{channel}' contains illegal characters")
    } else {
        return None;
    };
    Some(error(
        StatusCode::BAD_REQUEST,
        &format!("invalid channel ID: {why}"),
    ))
}

/// A random UUID (version 4), as Fabric's `util.GenerateUUID` makes request IDs.
fn request_id() -> String {
    let mut b = [0u8; 16];
    // Only a label for logs: an all-zero ID if the system RNG fails is harmless.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub(crate) fn channel_url(name: &str) -> String {
    format!("{CHANNELS}/{name}")
}

fn participation_error(e: &ParticipationError, context: Option<&str>) -> Reply {
    let message = match context {
        Some(c) => format!("{c}: {e}"),
        None => e.to_string(),
    };
    let mut reply = error(e.status(), &message);
    if let Some(allow) = e.allow() {
        reply
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    reply
}

/// A JSON body as Go's `json.Encoder` writes it: followed by a newline.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Reply {
    let mut bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        // Our own plain structs: cannot fail, but a reply beats a panic.
        Err(e) => format!("{{\"error\":\"encoding the answer: {e}\"}}").into_bytes(),
    };
    bytes.push(b'\n');
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

fn error(status: StatusCode, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message }))
}

fn not_allowed(method: &Method, allow: &'static str) -> Reply {
    let mut reply = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("invalid request method: {method}"),
    );
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}

fn no_store(mut reply: Reply) -> Reply {
    reply
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// Go's `http.NotFound`.
pub(crate) fn not_found() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *reply.status_mut() = StatusCode::NOT_FOUND;
    let headers = reply.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    reply
}

/// Go's `http.Redirect`: a short HTML body for GET and HEAD.
fn redirect(status: StatusCode, location: &'static str, text: &str, method: &Method) -> Reply {
    let body = if matches!(*method, Method::GET | Method::HEAD) {
        Bytes::from(format!("<a href=\"{location}\">{text}</a>.\n\n"))
    } else {
        Bytes::new()
    };
    let html = !body.is_empty();
    let mut reply = Response::new(Full::new(body));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(location));
    if html {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    reply
}

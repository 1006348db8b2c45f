//! LXD's response envelope: every answer is `sync`, `async` or `error`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which kind of answer an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseType {
    /// The result is in `metadata`.
    Sync,
    /// An operation was started; `operation` names it.
    Async,
    /// `error` and `error_code` say what went wrong.
    Error,
}

/// The body of every REST answer, with LXD's field names and order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// sync, async or error.
    #[serde(rename = "type")]
    pub kind: ResponseType,
    /// "Success", "Operation created", or "" on errors.
    #[serde(default)]
    pub status: String,
    /// 200, 100, or 0 on errors.
    #[serde(default)]
    pub status_code: u16,
    /// The operation's URL for async answers.
    #[serde(default)]
    pub operation: String,
    /// The HTTP status on errors, else 0.
    #[serde(default)]
    pub error_code: u16,
    /// The message on errors, else "".
    #[serde(default)]
    pub error: String,
    /// The payload.
    #[serde(default)]
    pub metadata: serde_json::Value,
}

impl Envelope {
    /// A successful synchronous answer.
    pub fn sync(metadata: serde_json::Value) -> Self {
        Self {
            kind: ResponseType::Sync,
            status: "Success".into(),
            status_code: 200,
            operation: String::new(),
            error_code: 0,
            error: String::new(),
            metadata,
        }
    }

    /// An answer saying an operation was created.
    pub fn operation_created(url: String, metadata: serde_json::Value) -> Self {
        Self {
            kind: ResponseType::Async,
            status: "Operation created".into(),
            status_code: 100,
            operation: url,
            error_code: 0,
            error: String::new(),
            metadata,
        }
    }

    /// An error answer carrying the HTTP status it is sent with.
    pub fn error(http_status: u16, message: impl Into<String>) -> Self {
        Self {
            kind: ResponseType::Error,
            status: String::new(),
            status_code: 0,
            operation: String::new(),
            error_code: http_status,
            error: message.into(),
            metadata: serde_json::Value::Null,
        }
    }
}

/// LXD's ETag of a resource: SHA-256 of the JSON of its writable part.
pub fn etag_of<T: Serialize>(writable: &T) -> String {
    let json = serde_json::to_vec(writable).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_serialize_with_lxds_fields_in_order() {
        let err = serde_json::to_string(&Envelope::error(404, "Cluster member not found")).unwrap();
        assert_eq!(
            err,
            r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":404,"error":"Cluster member not found","metadata":null}"#
        );
        let ok = serde_json::to_string(&Envelope::sync(serde_json::json!({}))).unwrap();
        assert_eq!(
            ok,
            r#"{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{}}"#
        );
    }
}

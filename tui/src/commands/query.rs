//! `corral query`: a raw request to the REST API, printed as `lxc query` prints it.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use corral_shared::api::{Envelope, ResponseType};
use corral_shared::client::{Client, ClientError};

use crate::error::CliError;
use crate::format::json;

/// The methods `lxc query` accepts.
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "PATCH", "DELETE"];

/// Arguments of `corral query`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct QueryArgs {
    /// HTTP method
    #[arg(short = 'X', long = "request", default_value = "GET")]
    pub method: String,
    /// Request body: JSON, or text that is sent as a JSON string
    #[arg(short, long)]
    pub data: Option<String>,
    /// Wait for the operation to complete and print it
    #[arg(long)]
    pub wait: bool,
    /// Print the whole response, not just its metadata
    #[arg(long)]
    pub raw: bool,
    /// How long --wait may wait, in seconds
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// The API path, e.g. /1.0/cluster, after a remote's name for another remote
    /// (`prod:/1.0`)
    pub path: String,
}

/// Sends the request and prints the answer.
pub async fn run(client: &Client, args: QueryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let method = check(&args)?;
    let body = args.data.as_deref().map(encode_data);
    let (status, bytes) = client.raw(&method, &args.path, body).await?;
    let text = match interpret(status, &bytes)? {
        // Endpoints that do not speak the envelope are shown as they answered.
        Reply::Plain => String::from_utf8_lossy(&bytes).into_owned(),
        Reply::Envelope(envelope) if args.wait && !envelope.operation.is_empty() => {
            let timeout = Duration::from_secs(args.timeout);
            let op = client.wait_operation(&envelope.operation, timeout).await?;
            let metadata = serde_json::to_value(&op).map_err(|e| CliError::encode("JSON", e))?;
            let done = Envelope::sync(metadata);
            let body = serde_json::to_string(&done).map_err(|e| CliError::encode("JSON", e))?;
            render(&body, &done, args.raw)
        }
        Reply::Envelope(envelope) => render(&String::from_utf8_lossy(&bytes), &envelope, args.raw),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Refuses what lxc refuses before anything is sent; returns the method upper-cased.
fn check(args: &QueryArgs) -> Result<String, CliError> {
    let method = args.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(CliError::Usage(format!(
            "Action {:?} isn't supported by this tool; use one of {}",
            args.method,
            METHODS.join(", ")
        )));
    }
    if !args.path.starts_with('/') {
        return Err(CliError::Usage(format!(
            "Query path must start with /: write it as /1.0/... (got {:?})",
            args.path
        )));
    }
    Ok(method)
}

/// `-d` text: sent as is when it is JSON, else as a JSON string (lxc guesses the same way).
pub fn encode_data(data: &str) -> Vec<u8> {
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(_) => data.as_bytes().to_vec(),
        Err(_) => serde_json::Value::String(data.to_string())
            .to_string()
            .into_bytes(),
    }
}

/// What came back, once errors are taken out.
#[derive(Debug)]
pub enum Reply {
    /// A body that is not an LXD envelope, with HTTP 200.
    Plain,
    /// A sync or async envelope.
    Envelope(Envelope),
}

/// Reads an answer: an error envelope, or a non-envelope non-200 answer, is an error.
pub fn interpret(status: u16, body: &[u8]) -> Result<Reply, CliError> {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) if envelope.kind == ResponseType::Error || status >= 400 => {
            let message = if envelope.error.is_empty() {
                format!("the daemon answered HTTP {status}")
            } else {
                envelope.error
            };
            Err(ClientError::Api { status, message }.into())
        }
        Ok(envelope) => Ok(Reply::Envelope(envelope)),
        Err(_) if status == 200 => Ok(Reply::Plain),
        Err(_) => Err(ClientError::Api {
            status,
            message: format!(
                "the daemon answered HTTP {status}: {}",
                String::from_utf8_lossy(body).trim()
            ),
        }
        .into()),
    }
}

/// The output: the metadata with sorted keys, or with `raw` the whole body in its order;
/// both end with an empty line, as lxc's do.
pub fn render(body: &str, envelope: &Envelope, raw: bool) -> String {
    if raw {
        return json::reindent_tabs(body) + "\n";
    }
    match &envelope.metadata {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        metadata => json::sorted_tabs(metadata) + "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lxd/");

    /// The body of a recorded raw HTTP answer, with its status.
    fn raw_sample(name: &str) -> (u16, String) {
        let text = std::fs::read_to_string(format!("{SAMPLES}{name}")).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (
            head.split(' ').nth(1).unwrap().parse().unwrap(),
            body.into(),
        )
    }

    #[test]
    fn sync_metadata_prints_as_lxc_query_does() {
        let (status, body) = raw_sample("raw_GET_cluster_members_node1.http");
        let Reply::Envelope(envelope) = interpret(status, body.as_bytes()).unwrap() else {
            panic!("not an envelope");
        };
        let expected =
            std::fs::read_to_string(format!("{SAMPLES}query_cluster_members_node1.json")).unwrap();
        assert_eq!(render(&body, &envelope, false), expected);
        let raw = render(&body, &envelope, true);
        assert!(raw.starts_with("{\n\t\"type\": \"sync\",\n\t\"status\": \"Success\""));
    }

    #[test]
    fn error_envelopes_are_errors() {
        let (status, body) = raw_sample("raw_err_PATCH_max_voters_4.http");
        let err = interpret(status, body.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3"
        );
        assert!(matches!(
            interpret(200, b"plain text").unwrap(),
            Reply::Plain
        ));
        assert!(interpret(502, b"bad gateway").is_err());
    }

    #[test]
    fn data_is_json_or_a_json_string() {
        assert_eq!(encode_data(r#"{"a":1}"#), br#"{"a":1}"#);
        assert_eq!(encode_data("hello"), br#""hello""#);
    }

    #[test]
    fn bad_methods_and_paths_are_refused() {
        let mut args = QueryArgs {
            method: "get".into(),
            data: None,
            wait: false,
            raw: false,
            timeout: 300,
            path: "/1.0".into(),
        };
        assert_eq!(check(&args).unwrap(), "GET");
        args.path = "1.0".into();
        assert!(
            check(&args)
                .unwrap_err()
                .to_string()
                .starts_with("Query path must start with /")
        );
        args.path = "/1.0".into();
        args.method = "TRACE".into();
        assert!(check(&args).is_err());
    }
}

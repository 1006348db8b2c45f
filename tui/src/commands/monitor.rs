//! `corral monitor`: the daemon's events as they happen, as `lxc monitor` prints them.

use std::io::Write;

use corral_shared::api::{Event, EventType, parse_types};
use corral_shared::client::Client;

use crate::error::CliError;
use crate::format::{json, yaml};

/// How `corral monitor` prints each event, as `lxc monitor --format` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MonitorFormat {
    /// One JSON object per event.
    Json,
    /// One YAML document per event.
    #[default]
    Yaml,
    /// One line per event, for people.
    Pretty,
}

/// `corral monitor`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, clap::Args)]
pub struct MonitorArgs {
    /// The remote whose events to print (the default remote when absent)
    #[arg(value_name = "[REMOTE:]")]
    pub remote: Option<String>,
    /// Event type to listen for: lifecycle, operation or logging (repeat, or separate with
    /// commas; all when absent)
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Format (json|yaml|pretty)
    #[arg(long, short = 'f', value_enum, default_value_t = MonitorFormat::Yaml)]
    pub format: MonitorFormat,
    /// Pretty rendering (short for --format=pretty)
    #[arg(long)]
    pub pretty: bool,
}

/// The event types asked for; empty means all of them.
pub fn types(args: &MonitorArgs) -> Result<Vec<EventType>, CliError> {
    if args.types.iter().all(|t| t.trim().is_empty()) {
        return Ok(Vec::new());
    }
    let joined = args.types.join(",");
    let types = parse_types(&joined).map_err(|e| CliError::Usage(format!("--type: {e}")))?;
    Ok(types.into_iter().collect())
}

/// Prints events until the daemon closes the stream (or the command is interrupted).
pub async fn run(client: &Client, args: MonitorArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let format = if args.pretty {
        MonitorFormat::Pretty
    } else {
        args.format
    };
    let mut stream = client.events(&types(&args)?).await?;
    while let Some(event) = stream.next().await {
        out.write_all(render(format, &event?)?.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// One event as `format` prints it, each followed by a blank line as `lxc monitor` does
/// (pretty lines stand alone).
pub fn render(format: MonitorFormat, event: &Event) -> Result<String, CliError> {
    Ok(match format {
        MonitorFormat::Json => {
            format!(
                "{}\n",
                json::line(event).map_err(|e| CliError::encode("JSON", e))?
            )
        }
        MonitorFormat::Yaml => {
            format!(
                "{}\n",
                yaml::document(event).map_err(|e| CliError::encode("YAML", e))?
            )
        }
        MonitorFormat::Pretty => format!("{}\n", event.pretty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &str =
        include_str!("../../../tests/fixtures/lxd/events_lifecycle_monitor_node1.json");

    fn renamed() -> Event {
        let line = CAPTURE.lines().filter(|l| !l.is_empty()).nth(4).unwrap();
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn each_format_prints_one_event_then_a_blank_line_or_one_line() {
        let event = renamed();
        let json = render(MonitorFormat::Json, &event).unwrap();
        assert!(json.ends_with("}\n\n"), "{json:?}");
        let back: Event = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(back, event);
        let yaml = render(MonitorFormat::Yaml, &event).unwrap();
        assert!(yaml.contains("action: cluster-member-renamed"), "{yaml}");
        assert!(yaml.contains("type: lifecycle"), "{yaml}");
        assert!(yaml.ends_with("\n\n"), "{yaml:?}");
        let pretty = render(MonitorFormat::Pretty, &event).unwrap();
        assert_eq!(pretty.lines().count(), 1, "{pretty}");
        assert!(pretty.contains("cluster-member-renamed"), "{pretty}");
    }

    #[test]
    fn types_may_be_repeated_or_comma_separated_and_unknown_ones_are_refused() {
        use EventType::*;
        let args = |types: &[&str]| MonitorArgs {
            types: types.iter().map(|t| t.to_string()).collect(),
            ..MonitorArgs::default()
        };
        assert_eq!(types(&args(&[])).unwrap(), vec![]);
        assert_eq!(
            types(&args(&["operation", "lifecycle"])).unwrap(),
            vec![Lifecycle, Operation]
        );
        assert_eq!(
            types(&args(&["lifecycle,logging"])).unwrap(),
            vec![Lifecycle, Logging]
        );
        let refused = types(&args(&["lifecycle", "ovn"])).unwrap_err().to_string();
        assert!(refused.contains("\"ovn\""), "{refused}");
    }
}

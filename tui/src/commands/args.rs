//! Argument forms more than one command accepts.

use std::collections::BTreeMap;

use crate::error::CliError;

/// Reads `KEY VALUE` or `KEY=VALUE...`, the two forms lxc accepts.
/// `usage` is the command as its help writes it (`corral config set`), for the error.
pub fn parse_assignments(
    args: &[String],
    usage: &str,
) -> Result<BTreeMap<String, String>, CliError> {
    if let [key, value] = args
        && !key.contains('=')
    {
        return Ok(BTreeMap::from([(key.clone(), value.clone())]));
    }
    args.iter()
        .map(|arg| match arg.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(CliError::Usage(format!(
                "Invalid key=value configuration: {arg}; write '{usage} KEY VALUE' or \
                 '{usage} KEY=VALUE [KEY=VALUE...]'"
            ))),
        })
        .collect()
}

//! Talking to the person at the terminal: questions, pauses, and the text editor.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::Command;

use crate::error::CliError;

/// Whether standard input is a terminal (someone can answer questions and use an editor).
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// Asks `question` and reads one line: `true` for `yes` or `y` (any case), `false` for
/// anything else, including the end of input.
pub fn confirm(question: &str, input: &mut dyn BufRead, out: &mut dyn Write) -> io::Result<bool> {
    out.write_all(question.as_bytes())?;
    out.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "yes" | "y"
    ))
}

/// Waits for Enter on standard input; `false` when input ended (Ctrl-D) instead.
pub fn wait_for_enter() -> io::Result<bool> {
    let mut line = String::new();
    Ok(io::stdin().lock().read_line(&mut line)? > 0)
}

/// The editor to run and its arguments: `$EDITOR`, else `$VISUAL`, else `vi`. The value may
/// carry arguments (`code --wait`), split on whitespace as lxc does.
pub fn editor_command(editor: Option<&str>, visual: Option<&str>) -> (String, Vec<String>) {
    let chosen = [editor, visual]
        .into_iter()
        .flatten()
        .find(|v| !v.trim().is_empty())
        .unwrap_or("vi");
    let mut words = chosen.split_whitespace().map(str::to_string);
    let program = words.next().unwrap_or_else(|| "vi".into());
    (program, words.collect())
}

/// Opens the user's editor (see [`editor_command`]) on `text` and returns what was saved.
pub fn edit(text: &str) -> Result<String, CliError> {
    let (program, args) = editor_command(
        std::env::var("EDITOR").ok().as_deref(),
        std::env::var("VISUAL").ok().as_deref(),
    );
    edit_with(text, &program, &args)
}

/// Runs `program ARGS FILE` on `text` written to a temporary `.yaml` file, and returns the
/// file's content once the program has exited successfully.
pub fn edit_with(text: &str, program: &str, args: &[String]) -> Result<String, CliError> {
    let failed = |what: &str, e: io::Error| {
        CliError::Failed(format!(
            "cannot {what} the file to edit: {e}; nothing was changed"
        ))
    };
    let mut file = tempfile::Builder::new()
        .prefix("corral-edit-")
        .suffix(".yaml")
        .tempfile()
        .map_err(|e| failed("create", e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| failed("write", e))?;
    let status = Command::new(program)
        .args(args)
        .arg(file.path())
        .status()
        .map_err(|e| {
            CliError::Failed(format!(
                "cannot start the editor {program:?}: {e}; set EDITOR to an editor that is \
                 installed (e.g. EDITOR=nano)"
            ))
        })?;
    if !status.success() {
        return Err(CliError::Failed(format!(
            "the editor {program:?} exited with {status}; nothing was changed"
        )));
    }
    std::fs::read_to_string(file.path()).map_err(|e| failed("read back", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_needs_a_yes() {
        let ask = |answer: &str| {
            let mut out = Vec::new();
            let yes = confirm("Sure? ", &mut answer.as_bytes(), &mut out).unwrap();
            assert_eq!(out, b"Sure? ");
            yes
        };
        assert!(ask("yes\n"));
        assert!(ask("Y\n"));
        assert!(!ask("no\n"));
        assert!(!ask("\n"));
        assert!(!ask(""));
    }

    #[test]
    fn the_editor_comes_from_the_environment() {
        assert_eq!(editor_command(None, None), ("vi".into(), vec![]));
        assert_eq!(
            editor_command(Some("code --wait"), Some("nano")),
            ("code".into(), vec!["--wait".into()])
        );
        assert_eq!(
            editor_command(Some(" "), Some("nano")),
            ("nano".into(), vec![])
        );
    }

    #[test]
    fn edit_returns_what_the_editor_saved() {
        let sh = |script: &str| vec!["-c".to_string(), script.to_string()];
        // The file's path comes last, which `sh -c` hands to the script as $0.
        let saved = edit_with("a: 1\n", "sh", &sh(r#"sed -i 's/1/2/' "$0""#)).unwrap();
        assert_eq!(saved, "a: 2\n");
        let err = edit_with("a: 1\n", "sh", &sh("exit 3")).unwrap_err();
        assert!(
            err.to_string().contains("exited with exit status: 3"),
            "{err}"
        );
        let err = edit_with("", "/nonexistent/editor", &[]).unwrap_err();
        assert!(err.to_string().contains("set EDITOR"), "{err}");
    }
}

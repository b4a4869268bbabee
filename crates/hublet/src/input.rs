//! Values that may come from a file or standard input, as `az` takes them:
//! `@path` reads the file, `-` reads standard input, `@@text` is the literal
//! `@text`; anything else is the value itself.

use std::io::Read;

use crate::client::ClientError;
use crate::exit::codes;

/// The bytes `arg` stands for (`what` names the argument in errors).
pub fn bytes(arg: &str, what: &str) -> Result<Vec<u8>, ClientError> {
    if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| {
            ClientError::Exit(
                codes::BAD_INPUT,
                format!("cannot read {what} from standard input: {e}"),
            )
        })?;
        return Ok(buf);
    }
    if let Some(literal) = arg.strip_prefix("@@") {
        return Ok(format!("@{literal}").into_bytes());
    }
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read(path).map_err(|e| {
            ClientError::Exit(
                codes::BAD_INPUT,
                format!("cannot read {what} from '{path}': {e}"),
            )
        });
    }
    Ok(arg.as_bytes().to_vec())
}

/// The text `arg` stands for; a file or input that is not UTF-8 is refused.
pub fn text(arg: &str, what: &str) -> Result<String, ClientError> {
    String::from_utf8(bytes(arg, what)?)
        .map_err(|_| ClientError::Exit(codes::BAD_INPUT, format!("{what} is not UTF-8 text")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_a_literal_and_an_escaped_at_sign() {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = dir.path().join("p.json");
        std::fs::write(&f, br#"{"a":1}"#).expect("write");
        assert_eq!(
            text(&format!("@{}", f.display()), "the payload").expect("file"),
            r#"{"a":1}"#
        );
        assert_eq!(text("plain", "x").expect("literal"), "plain");
        assert_eq!(text("@@handle", "x").expect("escaped"), "@handle");
        let missing = text("@/nonexistent/x.json", "the payload").unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/x.json"));
    }
}

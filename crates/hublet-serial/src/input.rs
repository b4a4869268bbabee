//! What a user types to send to a board: plain text, hex (`de ad 0d 0a`),
//! or text with C-style escapes (`AT\r\n`, `\x1b[0m`). One parser for the
//! CLI, the REST API and the desktop app.

/// Parses hex digits, ignoring spaces, `:` and `-` between bytes, and an
/// optional `0x` before each byte.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for word in s.split([' ', ':', '-', ',']).filter(|w| !w.is_empty()) {
        let w = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .unwrap_or(word);
        if w.len() % 2 != 0 {
            return Err(format!("'{word}' has an odd number of hex digits"));
        }
        for i in (0..w.len()).step_by(2) {
            let pair = w
                .get(i..i + 2)
                .ok_or_else(|| format!("'{word}' is not hex"))?;
            out.push(
                u8::from_str_radix(pair, 16).map_err(|_| format!("'{pair}' is not a hex byte"))?,
            );
        }
    }
    Ok(out)
}

/// Expands `\n`, `\r`, `\t`, `\0`, `\\`, `\e` (escape) and `\xHH`.
pub fn parse_escaped(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('e') => out.push(0x1b),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let h: String = chars.by_ref().take(2).collect();
                let b = (h.len() == 2)
                    .then(|| u8::from_str_radix(&h, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("'\\x{h}' needs two hex digits"))?;
                out.push(b);
            }
            Some(o) => {
                return Err(format!(
                    "unknown escape '\\{o}' (use \\n \\r \\t \\0 \\e \\\\ or \\xHH)"
                ));
            }
            None => return Err("a trailing '\\' escapes nothing".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_the_usual_spellings_and_refuses_half_bytes() {
        assert_eq!(
            parse_hex("de ad:BE-ef").unwrap(),
            vec![0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(parse_hex("0x01 0x0d0a").unwrap(), vec![1, 13, 10]);
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
    }

    #[test]
    fn escapes_expand_and_unknown_ones_are_refused() {
        assert_eq!(parse_escaped(r"AT\r\n").unwrap(), b"AT\r\n");
        assert_eq!(
            parse_escaped(r"\x1b[0m\e\0\\é").unwrap(),
            "\u{1b}[0m\u{1b}\0\\é".as_bytes()
        );
        assert!(parse_escaped(r"\q").is_err());
        assert!(parse_escaped(r"\x4").is_err());
        assert!(parse_escaped("end\\").is_err());
    }
}

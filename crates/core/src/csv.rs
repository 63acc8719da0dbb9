//! A small RFC 4180 CSV reader over bytes that keeps the line number where
//! each record starts, so an import report can name lines exactly.
//!
//! Fields stay bytes: UTF-8 is checked per field by the caller, so a report
//! can say which column is not UTF-8. A UTF-8 BOM at the start is skipped.
//! Blank lines are skipped; CRLF and LF both end a record; quoted fields may
//! hold commas, doubled quotes and line breaks.

/// One record and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<Vec<u8>>,
}

/// A quote that was opened and never closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnterminatedQuote {
    pub line: usize,
}

/// Splits `input` into records.
pub fn records(input: &[u8]) -> Result<Vec<Record>, UnterminatedQuote> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < input.len() {
        let start_line = line;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted_field = false;
        loop {
            let Some(&c) = input.get(i) else {
                fields.push(std::mem::take(&mut field));
                break;
            };
            if c == b'"' && field.is_empty() && !quoted_field {
                // A quoted field: read to the closing quote.
                quoted_field = true;
                i += 1;
                loop {
                    match input.get(i) {
                        None => return Err(UnterminatedQuote { line: start_line }),
                        Some(b'"') if input.get(i + 1) == Some(&b'"') => {
                            field.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            if b == b'\n' {
                                line += 1;
                            }
                            field.push(b);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            match c {
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                    i += 1;
                }
                b'\r' if input.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                b'\n' => {
                    i += 1;
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                _ => {
                    field.push(c);
                    i += 1;
                }
            }
        }
        let blank =
            fields.len() == 1 && fields[0].iter().all(|b| b.is_ascii_whitespace()) && !quoted_field;
        if !blank {
            out.push(Record {
                line: start_line,
                fields,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(r: &Record) -> Vec<String> {
        r.fields
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    #[test]
    fn splits_with_lines() {
        let input = b"\xEF\xBB\xBFa,b\r\n\n1,\"x,\"\"y\"\"\nz\"\n3,4";
        let recs = records(input).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            (recs[0].line, strs(&recs[0])),
            (1, vec!["a".into(), "b".into()])
        );
        assert_eq!(
            (recs[1].line, strs(&recs[1])),
            (3, vec!["1".into(), "x,\"y\"\nz".into()])
        );
        assert_eq!(
            (recs[2].line, strs(&recs[2])),
            (5, vec!["3".into(), "4".into()])
        );
    }

    #[test]
    fn empty_fields_and_unterminated_quote() {
        let recs = records(b"a,,\n").unwrap();
        assert_eq!(recs[0].fields.len(), 3);
        assert_eq!(
            records(b"a\n\"open,b\n"),
            Err(UnterminatedQuote { line: 2 })
        );
    }
}

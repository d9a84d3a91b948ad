//! Syntax highlighting of Flink SQL for the editor: a small tokenizer (keywords, types,
//! functions, strings, numbers, comments, quoted identifiers) and the escaped HTML of the
//! highlighted text that sits under the editor's transparent textarea, with the SQL error
//! written at the end of its line. Pure, so it is unit-tested on the host.

/// What a piece of the script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Keyword,
    Type,
    /// An identifier directly followed by `(`.
    Function,
    Identifier,
    /// `` `name` `` (Flink's quoted identifier).
    QuotedIdentifier,
    String,
    Number,
    Comment,
    Operator,
    Whitespace,
}

impl TokenKind {
    /// CSS class of the token's span; none for plain text.
    fn class(self) -> Option<&'static str> {
        match self {
            TokenKind::Keyword => Some("tok-kw"),
            TokenKind::Type => Some("tok-type"),
            TokenKind::Function => Some("tok-fn"),
            TokenKind::QuotedIdentifier => Some("tok-qid"),
            TokenKind::String => Some("tok-str"),
            TokenKind::Number => Some("tok-num"),
            TokenKind::Comment => Some("tok-com"),
            TokenKind::Operator => Some("tok-op"),
            TokenKind::Identifier | TokenKind::Whitespace => None,
        }
    }
}

/// Reserved words and clauses of Flink SQL highlighted as keywords (upper case).
const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CREATE",
    "CROSS",
    "CURRENT",
    "DAY",
    "DESC",
    "DESCRIPTOR",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "ENFORCED",
    "EXISTS",
    "FALSE",
    "FOLLOWING",
    "FOR",
    "FROM",
    "FULL",
    "FUNCTION",
    "GROUP",
    "HAVING",
    "HOUR",
    "IF",
    "IN",
    "INNER",
    "INSERT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MINUTE",
    "MONTH",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRECEDING",
    "PRIMARY",
    "RANGE",
    "RIGHT",
    "ROW",
    "ROWS",
    "SECOND",
    "SELECT",
    "SET",
    "TABLE",
    "TEMPORARY",
    "THEN",
    "TO",
    "TRUE",
    "UNBOUNDED",
    "UNION",
    "VALUES",
    "VIEW",
    "WATERMARK",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "YEAR",
];

/// Type names highlighted as types (upper case).
const TYPES: &[&str] = &[
    "ARRAY",
    "BIGINT",
    "BINARY",
    "BOOLEAN",
    "BYTES",
    "CHAR",
    "DATE",
    "DECIMAL",
    "DOUBLE",
    "FLOAT",
    "INT",
    "INTEGER",
    "MAP",
    "MULTISET",
    "NUMERIC",
    "REAL",
    "SMALLINT",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_LTZ",
    "TINYINT",
    "VARBINARY",
    "VARCHAR",
];

/// Splits `sql` into tokens that cover it exactly, in order.
pub fn tokenize(sql: &str) -> Vec<(TokenKind, &str)> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut start = 0;
    while start < sql.len() {
        let rest = &sql[start..];
        let first = rest.chars().next().unwrap_or(' ');
        let (kind, len) = if rest.starts_with("--") {
            (TokenKind::Comment, rest.find('\n').unwrap_or(rest.len()))
        } else if let Some(body) = rest.strip_prefix("/*") {
            let len = body.find("*/").map(|i| i + 4).unwrap_or(rest.len());
            (TokenKind::Comment, len)
        } else if first == '\'' {
            (TokenKind::String, quoted_len(rest, b'\''))
        } else if first == '`' {
            (TokenKind::QuotedIdentifier, quoted_len(rest, b'`'))
        } else if first.is_whitespace() {
            let len = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            (TokenKind::Whitespace, len)
        } else if first.is_ascii_digit() {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            (TokenKind::Number, len)
        } else if first.is_alphabetic() || first == '_' {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len());
            let word = rest[..len].to_ascii_uppercase();
            let next = bytes.get(start + len).copied();
            let kind = if TYPES.contains(&word.as_str()) {
                TokenKind::Type
            } else if next == Some(b'(') {
                TokenKind::Function
            } else if KEYWORDS.contains(&word.as_str()) {
                TokenKind::Keyword
            } else {
                TokenKind::Identifier
            };
            (kind, len)
        } else {
            (TokenKind::Operator, first.len_utf8())
        };
        let len = len.max(first.len_utf8());
        tokens.push((kind, &sql[start..start + len]));
        start += len;
    }
    tokens
}

/// Length of a quoted token starting at `rest[0]` (the quote), a doubled quote being an
/// escaped one; an unterminated quote runs to the end.
fn quoted_len(rest: &str, quote: u8) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// An SQL error to draw in the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlMark {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters), if known.
    pub column: Option<u32>,
    pub message: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Number of lines of `sql` as the editor shows them (an empty script has one).
pub fn line_count(sql: &str) -> usize {
    sql.split('\n').count()
}

/// Width in characters of the longest line.
pub fn longest_line(sql: &str) -> usize {
    sql.split('\n')
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// The highlighted HTML of `sql`. The token under `mark`'s column gets the `tok-err`
/// class, and the message is written after the end of `mark`'s line in an element with
/// `data-testid="sql-error"` (so the error shows at its line). Ends with a newline so a
/// trailing empty line keeps its height.
pub fn highlight_html(sql: &str, mark: Option<&SqlMark>) -> String {
    let mut html = String::with_capacity(sql.len() * 2);
    let mut line: u32 = 1;
    let mut column: u32 = 1;
    let mut mark_written = false;
    let error_html = |mark: &SqlMark| {
        let column = mark
            .column
            .map(|c| format!(" data-column=\"{c}\""))
            .unwrap_or_default();
        format!(
            "<span class=\"sql-inline-error\" data-testid=\"sql-error\" data-line=\"{}\"{column} role=\"alert\">{}</span>",
            mark.line,
            escape_html(&mark.message)
        )
    };
    for (kind, text) in tokenize(sql) {
        let chars = text.chars().count() as u32;
        let marked = mark.is_some_and(|m| {
            m.line == line
                && m.column.is_some_and(|c| c >= column && c < column + chars)
                && !text.contains('\n')
        });
        let mut classes: Vec<&str> = kind.class().into_iter().collect();
        if marked {
            classes.push("tok-err");
        }
        let open = (!classes.is_empty()).then(|| format!("<span class=\"{}\">", classes.join(" ")));
        if let Some(open) = &open {
            html.push_str(open);
        }
        let mut pieces = text.split('\n').peekable();
        while let Some(piece) = pieces.next() {
            html.push_str(&escape_html(piece));
            column += piece.chars().count() as u32;
            if pieces.peek().is_some() {
                if let Some(m) = mark.filter(|m| m.line == line) {
                    html.push_str(&error_html(m));
                    mark_written = true;
                }
                html.push('\n');
                line += 1;
                column = 1;
            }
        }
        if open.is_some() {
            html.push_str("</span>");
        }
    }
    if let Some(m) = mark.filter(|_| !mark_written) {
        // The last line, or a line past the end (an error "at the end of input").
        html.push_str(&error_html(m));
    }
    html.push('\n');
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_script() {
        let sql = "CREATE TABLE t (id BIGINT) WITH ('connector' = 'datagen'); -- hi\nSELECT COUNT(*) FROM `t`";
        let tokens = tokenize(sql);
        let joined: String = tokens.iter().map(|(_, t)| *t).collect();
        assert_eq!(joined, sql);
        let kinds = |k| {
            tokens
                .iter()
                .filter(move |(kind, _)| *kind == k)
                .map(|(_, t)| *t)
        };
        assert_eq!(
            kinds(TokenKind::Keyword).collect::<Vec<_>>(),
            ["CREATE", "TABLE", "WITH", "SELECT", "FROM"]
        );
        assert_eq!(kinds(TokenKind::Type).collect::<Vec<_>>(), ["BIGINT"]);
        assert_eq!(
            kinds(TokenKind::String).collect::<Vec<_>>(),
            ["'connector'", "'datagen'"]
        );
        assert_eq!(kinds(TokenKind::Function).collect::<Vec<_>>(), ["COUNT"]);
        assert_eq!(kinds(TokenKind::Comment).collect::<Vec<_>>(), ["-- hi"]);
        assert_eq!(
            kinds(TokenKind::QuotedIdentifier).collect::<Vec<_>>(),
            ["`t`"]
        );
    }

    #[test]
    fn unterminated_and_escaped_quotes() {
        assert_eq!(tokenize("'it''s'")[0], (TokenKind::String, "'it''s'"));
        assert_eq!(tokenize("'open")[0], (TokenKind::String, "'open"));
        assert_eq!(tokenize("/* open")[0], (TokenKind::Comment, "/* open"));
        let joined: String = tokenize("é ü ⚡").iter().map(|(_, t)| *t).collect();
        assert_eq!(joined, "é ü ⚡");
    }

    #[test]
    fn html_escapes_and_marks_the_error_line() {
        let sql = "SELECT a\nFROM <t>\nWHERE x";
        let mark = SqlMark {
            line: 2,
            column: Some(6),
            message: "no table <t>".into(),
        };
        let html = highlight_html(sql, Some(&mark));
        assert!(html.contains("&lt;"), "{html}");
        assert!(!html.contains("<t>"), "{html}");
        let error_at = html.find("data-testid=\"sql-error\"").unwrap_or(0);
        let lines_before = html[..error_at].matches('\n').count();
        assert_eq!(lines_before, 1, "the error follows line 2: {html}");
        assert!(html.contains("data-line=\"2\""));
        assert!(html.contains("tok-err"), "{html}");
        assert!(html.ends_with('\n'));
    }

    #[test]
    fn error_past_the_end_is_still_shown() {
        let mark = SqlMark {
            line: 9,
            column: None,
            message: "end".into(),
        };
        let html = highlight_html("SELECT", Some(&mark));
        assert!(html.contains("sql-inline-error"), "{html}");
        assert_eq!(highlight_html("", None), "\n");
    }

    #[test]
    fn lines() {
        assert_eq!(line_count(""), 1);
        assert_eq!(line_count("a\nb\n"), 3);
        assert_eq!(longest_line("ab\nabcd\n"), 4);
    }
}

//! JSON as the master sent it, pretty-printed (two-space indent, as
//! `serde_json::to_string_pretty`) without reordering its keys: `serde_json::Value`
//! sorts them unless the workspace-wide `preserve_order` feature is on.

/// The master's JSON answer, pretty-printed with its keys in the master's order (a
/// `serde_json::Value` would sort them). Fails on text that is not JSON.
pub fn pretty_json(text: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<serde_json::Value>(text)?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = text.trim().chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if let Some(close) = chars.next_if(|&n| n == '}' || n == ']') {
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_printed_in_the_masters_order() {
        let text = r#"{"z":1,"a":{"b":[1, 2],"e":[],"o":{ }},"s":"x,{\"y\":[]}"}"#;
        let pretty = pretty_json(text).map_err(|e| e.to_string());
        let expected = "{\n  \"z\": 1,\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ],\n    \"e\": [],\n    \"o\": {}\n  },\n  \"s\": \"x,{\\\"y\\\":[]}\"\n}";
        assert_eq!(pretty.as_deref(), Ok(expected));
        // What serde_json's own pretty printer makes of it, key order aside.
        let reparsed: Result<serde_json::Value, _> = serde_json::from_str(expected);
        let original: Result<serde_json::Value, _> = serde_json::from_str(text);
        assert_eq!(reparsed.ok(), original.ok());
        assert!(pretty_json("not json").is_err());
        assert!(pretty_json("{\"a\":1} trailing").is_err());
    }
}

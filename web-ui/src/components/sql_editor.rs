//! The SQL editor: a transparent `<textarea data-testid="sql-editor">` over a `<pre>`
//! holding the highlighted script (same font, size and padding, so the caret sits on the
//! coloured text), a line-number gutter and the current SQL error written at the end of
//! its line (`data-testid="sql-error"`, from [`crate::sql_highlight`]). The editor grows
//! with the script, so only the page scrolls vertically; long lines scroll sideways.

use leptos::prelude::*;

use crate::sql_highlight::{SqlMark, escape_html, highlight_html, line_count, longest_line};

/// Fewest lines the editor shows.
const MIN_LINES: usize = 12;

/// The editor bound to `sql`; `mark` is the error to draw, if any.
#[component]
pub fn SqlEditor(
    sql: RwSignal<String>,
    #[prop(into)] mark: Signal<Option<SqlMark>>,
) -> impl IntoView {
    let highlighted = move || sql.with(|text| mark.with(|m| highlight_html(text, m.as_ref())));
    let gutter = move || {
        let lines = sql.with(|text| line_count(text)).max(MIN_LINES);
        let error = mark.with(|m| m.as_ref().map(|m| (m.line as usize, m.message.clone())));
        let mut html = String::new();
        for n in 1..=lines {
            match &error {
                Some((line, message)) if *line == n => html.push_str(&format!(
                    "<span class=\"ln ln-error\" title=\"{}\">{n}</span>\n",
                    escape_html(message)
                )),
                _ => html.push_str(&format!("<span class=\"ln\">{n}</span>\n")),
            }
        }
        html
    };
    // Sized from the text so the textarea never scrolls by itself.
    let code_style = move || {
        let (lines, columns) = sql.with(|text| (line_count(text), longest_line(text)));
        format!(
            "--lines: {}; --columns: {};",
            lines.max(MIN_LINES),
            columns + 2
        )
    };
    view! {
        <div class="sql-editor" data-testid="sql-editor-frame">
            <pre class="sql-gutter" aria-hidden="true" inner_html=gutter></pre>
            <div class="sql-scroll">
                <div class="sql-code" style=code_style>
                    <pre class="sql-highlight" aria-hidden="true" inner_html=highlighted></pre>
                    <textarea
                        class="sql-input"
                        data-testid="sql-editor"
                        aria-label="Flink SQL script"
                        spellcheck="false"
                        autocomplete="off"
                        autocapitalize="off"
                        wrap="off"
                        prop:value=move || sql.get()
                        on:input=move |ev| sql.set(event_target_value(&ev))
                        on:change=move |ev| sql.set(event_target_value(&ev))
                    ></textarea>
                </div>
            </div>
        </div>
    }
}

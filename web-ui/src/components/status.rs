//! Placeholders shown while data loads or when a fetch failed.

use leptos::prelude::*;

/// Shown until a resource resolves for the first time.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="loading">{format!("Loading {what}…")}</p> }
}

/// A fetch error, in the page rather than in the console.
#[component]
pub fn ErrorBox(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div class="error" role="alert" data-testid="error">
            <strong>"Could not load data. "</strong>
            {message}
        </div>
    }
}

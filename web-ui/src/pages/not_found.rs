//! The page for any path no route matches.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// "Page not found", naming the path.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    let location = use_location();
    view! {
        <section class="page not-found" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p>
                "Nothing lives at " <code>{move || location.pathname.get()}</code> ". Try the "
                <a href="/">"overview"</a> " or the " <a href="/cluster">"cluster"</a> " page."
            </p>
        </section>
    }
}

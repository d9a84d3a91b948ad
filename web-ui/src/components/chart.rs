//! A small SVG bar chart of one value over a series (checkpoint durations and sizes over
//! time): one bar per point, oldest left, failed points in the error colour, a y axis
//! with a zero, middle and maximum tick, and each bar's details as its tooltip.

use leptos::prelude::*;

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    /// Under the bar (e.g. the checkpoint id).
    pub label: String,
    pub value: f64,
    pub failed: bool,
    /// The bar's tooltip.
    pub detail: String,
}

/// Drawing size in SVG user units (the SVG scales to its container's width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
/// Most x labels drawn; others are skipped evenly.
const MAX_X_LABELS: usize = 12;

/// A "nice" axis maximum ≥ `max`: 1, 2 or 5 times a power of ten.
pub fn nice_max(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let mut magnitude = 10f64.powi(max.log10().floor() as i32);
    // log10 may land just below an exact power of ten.
    if magnitude * 10.0 <= max {
        magnitude *= 10.0;
    }
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// The chart; `format` writes axis values.
#[component]
pub fn BarChart(
    points: Vec<ChartPoint>,
    testid: &'static str,
    title: &'static str,
    format: fn(f64) -> String,
    /// Under the title, e.g. the time span the bars cover.
    #[prop(optional, into)]
    subtitle: String,
) -> impl IntoView {
    if points.is_empty() {
        return view! {
            <figure class="chart" data-testid=testid>
                <figcaption>{title}</figcaption>
                <p class="empty">"No data yet."</p>
            </figure>
        }
        .into_any();
    }
    let max = nice_max(points.iter().map(|p| p.value).fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / points.len() as f64;
    let bar_w = (slot * 0.7).clamp(1.0, 40.0);
    let label_every = points.len().div_ceil(MAX_X_LABELS).max(1);
    let ticks = [0.0, max / 2.0, max]
        .into_iter()
        .map(|v| {
            let y = TOP + plot_h - v / max * plot_h;
            view! {
                <g class="tick">
                    <line x1=LEFT x2=WIDTH - RIGHT y1=y y2=y />
                    <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{format(v)}</text>
                </g>
            }
        })
        .collect_view();
    let count = points.len();
    let bars = points
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let h = (p.value.max(0.0) / max * plot_h).max(if p.value > 0.0 { 1.0 } else { 0.0 });
            let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
            let y = TOP + plot_h - h;
            let label = (i % label_every == 0 || i + 1 == count).then(|| {
                view! {
                    <text class="x-label" x=x + bar_w / 2.0 y=HEIGHT - 8.0 text-anchor="middle">
                        {p.label.clone()}
                    </text>
                }
            });
            view! {
                <g class=if p.failed { "bar failed" } else { "bar" } data-testid="chart-bar">
                    <title>{p.detail.clone()}</title>
                    <rect x=x y=y width=bar_w height=h rx="2" />
                    {label}
                </g>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" data-testid=testid>
            <figcaption>
                {title} <span class="chart-subtitle">{subtitle}</span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title preserveAspectRatio="xMidYMid meet">
                {ticks}
                {bars}
            </svg>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::nice_max;

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(4_500.0), 5_000.0);
        assert_eq!(nice_max(1_000.0), 1_000.0);
    }
}

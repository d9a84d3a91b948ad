//! The job graph as SVG: one box per vertex (a chain of operators) with its parallelism
//! and, on a running job, records in/out per second, watermark and a fill coloured by
//! busy / back-pressured ratio (Flink's colours: idle blue → busy red, back pressure
//! grey); edges labelled with their partitioning. Positions come from
//! [`crate::graph_layout`] (the rust-sugiyama layered layout), left to right.
//! Used by the job page (with metrics) and the new-job preview (without).

use eddy_api::jobs::{TaskMetrics, VertexDetails};
use eddy_api::rest::{EdgeInfo, VertexInfo};
use leptos::prelude::*;

use crate::format::{human_rate, percent, watermark};
use crate::graph_layout::{self, NODE_HEIGHT, NODE_WIDTH};

/// What the graph draws of a vertex.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphVertex {
    pub id: u32,
    pub name: String,
    pub parallelism: u32,
    pub slot_sharing_group: String,
    pub operators: Vec<String>,
    /// None in a preview (the job does not run yet).
    pub metrics: Option<TaskMetrics>,
}

impl From<&VertexDetails> for GraphVertex {
    fn from(v: &VertexDetails) -> Self {
        GraphVertex {
            id: v.id,
            name: v.name.clone(),
            parallelism: v.parallelism,
            slot_sharing_group: v.slot_sharing_group.clone(),
            operators: v.operators.clone(),
            metrics: Some(v.metrics.clone()),
        }
    }
}

impl From<&VertexInfo> for GraphVertex {
    fn from(v: &VertexInfo) -> Self {
        GraphVertex {
            id: v.id,
            name: v.name.clone(),
            parallelism: v.parallelism,
            slot_sharing_group: v.slot_sharing_group.clone(),
            operators: v.operators.clone(),
            metrics: None,
        }
    }
}

/// Characters of a vertex line that fit in a box (the bold name line: fewer).
const LINE_CHARS: usize = 34;
const NAME_CHARS: usize = 30;

/// `text` cut to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Fill and stroke of a vertex from its ratios (0..=1): back pressure dominating → grey,
/// else a hue from blue (idle) to red (busy). No metrics → neutral.
pub fn load_colours(metrics: Option<&TaskMetrics>) -> (String, String) {
    let Some(m) = metrics else {
        return ("hsl(215, 30%, 95%)".into(), "hsl(215, 25%, 55%)".into());
    };
    let busy = clamp_ratio(m.busy_ratio);
    let backpressured = clamp_ratio(m.backpressured_ratio);
    if backpressured > busy && backpressured > 0.05 {
        let lightness = 90.0 - 35.0 * backpressured;
        return (
            format!("hsl(220, 8%, {lightness:.0}%)"),
            "hsl(220, 8%, 30%)".into(),
        );
    }
    let hue = 210.0 * (1.0 - busy);
    let lightness = 92.0 - 14.0 * busy;
    (
        format!("hsl({hue:.0}, 75%, {lightness:.0}%)"),
        format!("hsl({hue:.0}, 60%, 40%)"),
    )
}

fn clamp_ratio(r: f64) -> f64 {
    if r.is_finite() {
        r.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The graph. `testid` names the `<svg>` (`job-graph` on the job page). With `select`,
/// clicking a vertex selects it (again: unselects) and the selected one is outlined.
#[component]
pub fn JobGraph(
    vertices: Vec<GraphVertex>,
    edges: Vec<EdgeInfo>,
    testid: &'static str,
    #[prop(optional)] select: Option<RwSignal<Option<u32>>>,
) -> impl IntoView {
    let ids: Vec<u32> = vertices.iter().map(|v| v.id).collect();
    let pairs: Vec<(u32, u32)> = edges.iter().map(|e| (e.source, e.target)).collect();
    let layout = graph_layout::layout(&ids, &pairs);
    let marker_id = format!("{testid}-arrow");
    let marker_ref = format!("url(#{marker_id})");
    let edge_views = layout
        .edges
        .iter()
        .zip(edges.iter())
        .map(|(route, edge)| {
            let partitioning = edge.partitioning.clone();
            let label = partitioning.clone();
            view! {
                <g class="graph-edge" data-testid="edge" data-source=route.source.to_string() data-target=route.target.to_string() data-partitioning=partitioning.clone()>
                    <path d=route.path.clone() marker-end=marker_ref.clone() />
                    <text
                        class="edge-label"
                        data-testid="edge-label"
                        x=format!("{:.1}", route.label_x)
                        y=format!("{:.1}", route.label_y)
                        text-anchor="middle"
                    >
                        {label}
                    </text>
                </g>
            }
        })
        .collect_view();
    let node_views = layout
        .nodes
        .iter()
        .filter_map(|placed| {
            let vertex = vertices.iter().find(|v| v.id == placed.id)?.clone();
            Some(view! { <VertexBox vertex x=placed.x y=placed.y select /> })
        })
        .collect_view();
    let width = format!("{:.0}", layout.width);
    let height = format!("{:.0}", layout.height);
    view! {
        <div class="graph-wrap">
            <svg
                class="job-graph"
                data-testid=testid
                width=width.clone()
                height=height.clone()
                viewBox=format!("0 0 {width} {height}")
                role="img"
                aria-label="Job graph"
            >
                <defs>
                    <marker
                        id=marker_id
                        viewBox="0 0 10 10"
                        refX="9"
                        refY="5"
                        markerWidth="7"
                        markerHeight="7"
                        orient="auto-start-reverse"
                    >
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
                    </marker>
                </defs>
                {edge_views}
                {node_views}
            </svg>
        </div>
    }
}

/// One vertex box.
#[component]
fn VertexBox(
    vertex: GraphVertex,
    x: f64,
    y: f64,
    select: Option<RwSignal<Option<u32>>>,
) -> impl IntoView {
    let id = vertex.id;
    let class = move || match select {
        Some(selected) if selected.get() == Some(id) => "vertex selectable selected",
        Some(_) => "vertex selectable",
        None => "vertex",
    };
    let on_click = move |_| {
        if let Some(selected) = select {
            selected.update(|s| *s = if *s == Some(id) { None } else { Some(id) });
        }
    };
    let (fill, stroke) = load_colours(vertex.metrics.as_ref());
    let title = format!(
        "{}\nvertex {} · parallelism {} · slot sharing group {}\noperators: {}",
        vertex.name,
        vertex.id,
        vertex.parallelism,
        vertex.slot_sharing_group,
        vertex.operators.join(" → ")
    );
    let head = truncate(&vertex.name, NAME_CHARS);
    let second = format!(
        "parallelism {} · {}",
        vertex.parallelism,
        truncate(&vertex.slot_sharing_group, 16)
    );
    let (third, fourth, busy, backpressured) = match &vertex.metrics {
        Some(m) => (
            format!(
                "in {} · out {}",
                human_rate(m.records_in_per_second),
                human_rate(m.records_out_per_second)
            ),
            format!("wm {}", watermark(m.current_watermark)),
            clamp_ratio(m.busy_ratio),
            clamp_ratio(m.backpressured_ratio),
        ),
        None => (
            match vertex.operators.len() {
                1 => "1 operator".to_string(),
                n => format!("{n} operators chained"),
            },
            truncate(&vertex.operators.join(" → "), LINE_CHARS),
            0.0,
            0.0,
        ),
    };
    let has_metrics = vertex.metrics.is_some();
    let bars = has_metrics.then(|| {
        let bar_width = (NODE_WIDTH - 20.0) / 2.0 - 4.0;
        view! {
            <g class="vertex-bars">
                <title>{format!("busy {} · back-pressured {}", percent(busy), percent(backpressured))}</title>
                <rect class="ratio-track" x="10" y=NODE_HEIGHT - 14.0 width=bar_width height="5" rx="2" />
                <rect class="ratio-busy" x="10" y=NODE_HEIGHT - 14.0 width=bar_width * busy height="5" rx="2" />
                <rect class="ratio-track" x=18.0 + bar_width y=NODE_HEIGHT - 14.0 width=bar_width height="5" rx="2" />
                <rect class="ratio-bp" x=18.0 + bar_width y=NODE_HEIGHT - 14.0 width=bar_width * backpressured height="5" rx="2" />
                <text class="ratio-label" x="10" y=NODE_HEIGHT - 18.0>{format!("busy {}", percent(busy))}</text>
                <text class="ratio-label" x=18.0 + bar_width y=NODE_HEIGHT - 18.0>{format!("backpressure {}", percent(backpressured))}</text>
            </g>
        }
    });
    view! {
        <g
            class=class
            on:click=on_click
            data-testid="vertex"
            data-vertex-id=vertex.id.to_string()
            data-parallelism=vertex.parallelism.to_string()
            data-busy=format!("{busy:.2}")
            data-backpressured=format!("{backpressured:.2}")
            transform=format!("translate({x:.1} {y:.1})")
        >
            <title>{title}</title>
            <rect class="vertex-box" width=NODE_WIDTH height=NODE_HEIGHT rx="8" fill=fill stroke=stroke />
            // An inner viewport clips any text wider than the box.
            <svg width=NODE_WIDTH - 4.0 height=NODE_HEIGHT>
                <text class="vertex-name" x="10" y="20">{head}</text>
                <text class="vertex-line" x="10" y="38">{second}</text>
                <text class="vertex-line" x="10" y="55">{third}</text>
                <text class="vertex-line" x="10" y="72">{fourth}</text>
                {bars}
            </svg>
        </g>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn colours_follow_the_ratios() {
        let idle = TaskMetrics::default();
        let busy = TaskMetrics {
            busy_ratio: 1.0,
            ..TaskMetrics::default()
        };
        let stuck = TaskMetrics {
            backpressured_ratio: 0.9,
            ..TaskMetrics::default()
        };
        assert!(load_colours(Some(&idle)).0.starts_with("hsl(210,"));
        assert!(load_colours(Some(&busy)).0.starts_with("hsl(0,"));
        assert!(load_colours(Some(&stuck)).0.starts_with("hsl(220, 8%"));
        assert!(load_colours(None).0.starts_with("hsl(215, 30%"));
    }
}

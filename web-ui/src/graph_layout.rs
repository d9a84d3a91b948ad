//! Left-to-right layout of a job graph with the `rust-sugiyama` crate (Sugiyama's layered
//! drawing: cycle removal, ranking, crossing reduction, Brandes–Köpf coordinates). The
//! crate lays out top to bottom, so sizes go in with width and height swapped and
//! positions come out with x and y swapped; disconnected parts are stacked. Edges are
//! routed as curves from the right side of their source to the left side of their
//! target. Pure, so it is unit-tested on the host.

use std::collections::HashMap;

use rust_sugiyama::configure::Config;

/// Size of one vertex box in the drawing, in SVG user units.
pub const NODE_WIDTH: f64 = 250.0;
pub const NODE_HEIGHT: f64 = 104.0;
/// Extra room between layers (columns) for the edge labels.
const LAYER_GAP: f64 = 110.0;
/// Room between vertices of one layer (and between stacked disconnected parts).
const VERTEX_GAP: f64 = 28.0;
/// Margin around the whole drawing.
pub const MARGIN: f64 = 12.0;

/// A placed vertex: its id and top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    pub id: u32,
    pub x: f64,
    pub y: f64,
}

/// A routed edge: SVG path data and where its label goes.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedEdge {
    pub source: u32,
    pub target: u32,
    pub path: String,
    pub label_x: f64,
    pub label_y: f64,
}

/// The laid-out graph and the size of the drawing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphLayout {
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<RoutedEdge>,
    pub width: f64,
    pub height: f64,
}

/// Lays out vertices `ids` and directed `edges` (source, target) left to right. Edges
/// whose ends are not among `ids` are dropped; duplicates and self-loops are drawn but
/// not given to the layout.
pub fn layout(ids: &[u32], edges: &[(u32, u32)]) -> GraphLayout {
    let mut ids: Vec<u32> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return GraphLayout::default();
    }
    // The crate numbers vertices by insertion order.
    let index: HashMap<u32, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u32))
        .collect();
    let mut layout_edges: Vec<(u32, u32)> = edges
        .iter()
        .filter(|(s, t)| s != t)
        .filter_map(|(s, t)| Some((*index.get(s)?, *index.get(t)?)))
        .collect();
    layout_edges.sort_unstable();
    layout_edges.dedup();
    // Top-to-bottom sizes: the crate's width is our height.
    let vertices: Vec<(u32, (f64, f64))> = (0..ids.len() as u32)
        .map(|i| (i, (NODE_HEIGHT, NODE_WIDTH + LAYER_GAP)))
        .collect();
    let config = Config {
        vertex_spacing: VERTEX_GAP,
        ..Config::default()
    };
    let parts = rust_sugiyama::from_vertices_and_edges(&vertices, &layout_edges, &config);

    let mut nodes = Vec::with_capacity(ids.len());
    let mut top = MARGIN;
    let mut width: f64 = 0.0;
    for (positions, _, _) in parts {
        if positions.is_empty() {
            continue;
        }
        // Crate coordinates are centres: (across the layer, along the layers).
        let min_across = positions
            .iter()
            .map(|(_, (across, _))| *across)
            .fold(f64::INFINITY, f64::min);
        let max_across = positions
            .iter()
            .map(|(_, (across, _))| *across)
            .fold(f64::NEG_INFINITY, f64::max);
        let min_along = positions
            .iter()
            .map(|(_, (_, along))| *along)
            .fold(f64::INFINITY, f64::min);
        for (i, (across, along)) in &positions {
            let Some(id) = ids.get(*i) else { continue };
            let x = MARGIN
                + (along - min_along) / (NODE_WIDTH + LAYER_GAP + VERTEX_GAP)
                    * (NODE_WIDTH + LAYER_GAP);
            let y = top + (across - min_across);
            width = width.max(x + NODE_WIDTH);
            nodes.push(PlacedNode { id: *id, x, y });
        }
        top += (max_across - min_across) + NODE_HEIGHT + VERTEX_GAP;
    }
    // Any vertex the crate did not return (it should return all) goes below the rest.
    for id in &ids {
        if !nodes.iter().any(|n| n.id == *id) {
            nodes.push(PlacedNode {
                id: *id,
                x: MARGIN,
                y: top,
            });
            top += NODE_HEIGHT + VERTEX_GAP;
            width = width.max(MARGIN + NODE_WIDTH);
        }
    }
    nodes.sort_by_key(|n| n.id);
    let height = top - VERTEX_GAP + MARGIN;

    let position: HashMap<u32, (f64, f64)> = nodes.iter().map(|n| (n.id, (n.x, n.y))).collect();
    let mut seen: HashMap<(u32, u32), u32> = HashMap::new();
    let routed = edges
        .iter()
        .filter_map(|(s, t)| {
            let from = position.get(s)?;
            let to = position.get(t)?;
            let repeat = seen.entry((*s, *t)).or_default();
            let offset = f64::from(*repeat) * 14.0;
            *repeat += 1;
            Some(route(*s, *t, *from, *to, offset))
        })
        .collect();
    GraphLayout {
        nodes,
        edges: routed,
        width: width + MARGIN,
        height: height.max(NODE_HEIGHT + 2.0 * MARGIN),
    }
}

/// A cubic curve from the middle of the source's right side to the middle of the
/// target's left side (a loop over the top for an edge that goes back or to itself);
/// `offset` separates repeated edges between the same pair.
fn route(source: u32, target: u32, from: (f64, f64), to: (f64, f64), offset: f64) -> RoutedEdge {
    let (x1, y1) = (from.0 + NODE_WIDTH, from.1 + NODE_HEIGHT / 2.0 + offset);
    let (x2, y2) = (to.0, to.1 + NODE_HEIGHT / 2.0 + offset);
    if x2 > x1 {
        let bend = ((x2 - x1) / 2.0).max(30.0);
        RoutedEdge {
            source,
            target,
            path: format!(
                "M {x1:.1} {y1:.1} C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}",
                x1 + bend,
                x2 - bend
            ),
            label_x: (x1 + x2) / 2.0,
            label_y: (y1 + y2) / 2.0 - 6.0,
        }
    } else {
        let lift = from.1.min(to.1) - 24.0 - offset;
        RoutedEdge {
            source,
            target,
            path: format!(
                "M {x1:.1} {y1:.1} C {:.1} {y1:.1}, {:.1} {lift:.1}, {:.1} {lift:.1} S {:.1} {y2:.1}, {x2:.1} {y2:.1}",
                x1 + 40.0,
                x1 + 40.0,
                (x1 + x2) / 2.0,
                x2 - 40.0
            ),
            label_x: (x1 + x2) / 2.0,
            label_y: lift - 6.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(l: &GraphLayout, id: u32) -> &PlacedNode {
        l.nodes.iter().find(|n| n.id == id).expect("placed")
    }

    fn overlap(a: &PlacedNode, b: &PlacedNode) -> bool {
        a.x < b.x + NODE_WIDTH
            && b.x < a.x + NODE_WIDTH
            && a.y < b.y + NODE_HEIGHT
            && b.y < a.y + NODE_HEIGHT
    }

    fn no_overlaps(l: &GraphLayout) {
        for (i, a) in l.nodes.iter().enumerate() {
            for b in &l.nodes[i + 1..] {
                assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
            }
            assert!(
                a.x >= 0.0
                    && a.y >= 0.0
                    && a.x + NODE_WIDTH <= l.width
                    && a.y + NODE_HEIGHT <= l.height,
                "{a:?} outside {l:?}"
            );
        }
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(layout(&[], &[]).nodes.len(), 0);
        let l = layout(&[7], &[]);
        assert_eq!(l.nodes.len(), 1);
        no_overlaps(&l);
    }

    #[test]
    fn chain_goes_left_to_right() {
        let l = layout(&[1, 2, 3], &[(1, 2), (2, 3)]);
        assert!(
            node(&l, 1).x < node(&l, 2).x && node(&l, 2).x < node(&l, 3).x,
            "{l:?}"
        );
        assert_eq!(node(&l, 1).y, node(&l, 3).y);
        assert_eq!(l.edges.len(), 2);
        no_overlaps(&l);
    }

    #[test]
    fn diamond_and_join_are_layered() {
        // Two sources joined, then split into two sinks, plus a long edge.
        let l = layout(&[0, 1, 2, 3, 4], &[(0, 2), (1, 2), (2, 3), (2, 4), (0, 4)]);
        assert!(node(&l, 0).x < node(&l, 2).x);
        assert_eq!(node(&l, 0).x, node(&l, 1).x);
        assert!(node(&l, 2).x < node(&l, 3).x);
        assert_eq!(node(&l, 3).x, node(&l, 4).x);
        no_overlaps(&l);
    }

    #[test]
    fn disconnected_parts_are_stacked_and_bad_edges_dropped() {
        let l = layout(&[0, 1, 2, 3], &[(0, 1), (2, 3), (3, 3), (0, 1), (5, 0)]);
        assert_eq!(l.nodes.len(), 4);
        assert_eq!(
            l.edges.len(),
            4,
            "the self-loop and the duplicate are drawn"
        );
        no_overlaps(&l);
    }

    #[test]
    fn cycles_do_not_break_it() {
        let l = layout(&[0, 1, 2], &[(0, 1), (1, 2), (2, 0)]);
        assert_eq!(l.nodes.len(), 3);
        no_overlaps(&l);
    }
}

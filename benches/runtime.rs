//! Runtime benchmark (issue 4): events/s of the runtime alone — passthrough, filter
//! and a keyed tumbling count — over generated rows (the `datagen` connector) in one
//! slot, parallelism 1. Prints one line per pipeline. Run: `make bench-runtime`
//! (`cargo bench --bench runtime`); `EDDY_BENCH_ROWS` overrides the 10 M rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::Operator as BinOp;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::scalar::ScalarValue;
use eddy_worker::connectors::options::Options;
use eddy_worker::connectors::registry::{create_sink, create_source};
use eddy_worker::graph::{Partitioning, StreamGraph};
use eddy_worker::operators::aggregate::AggregateSpec;
use eddy_worker::operators::basic::FilterOperator;
use eddy_worker::operators::window::{
    WindowAggregateSpec, WindowAssigner, WindowTime, create_window_aggregate,
};
use eddy_worker::runtime::executor::{ExecutionConfig, execute};
use eddy_worker::runtime::operator::{Operator, SubtaskInfo};
use eddy_worker::time::watermark::WatermarkStrategy;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("value", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
    ]))
}

fn source(rows: u64) -> Arc<dyn eddy_worker::connectors::Source> {
    let end = (rows - 1).to_string();
    let options = Options::new([
        ("connector", "datagen".to_string()),
        ("number-of-rows", rows.to_string()),
        ("rows-per-second", "1000000000".to_string()),
        ("fields.key.kind", "random".to_string()),
        ("fields.key.min", "0".to_string()),
        ("fields.key.max", "999".to_string()),
        ("fields.value.kind", "sequence".to_string()),
        ("fields.value.start", "0".to_string()),
        ("fields.value.end", end.clone()),
        ("fields.ts.kind", "sequence".to_string()),
        ("fields.ts.start", "0".to_string()),
        ("fields.ts.end", end),
        ("seed", "7".to_string()),
    ]);
    create_source(&options, schema()).expect("datagen source")
}

fn blackhole() -> Arc<dyn eddy_worker::connectors::Sink> {
    create_sink(&Options::new([("connector", "blackhole")]), schema()).expect("blackhole sink")
}

fn event_time() -> WatermarkStrategy {
    WatermarkStrategy::BoundedOutOfOrderness {
        column: "ts".into(),
        max_out_of_orderness: Duration::ZERO,
        idle_timeout: None,
    }
}

fn passthrough(rows: u64) -> StreamGraph {
    let mut g = StreamGraph::new("passthrough");
    let s = g.add_source("datagen", 1, source(rows), WatermarkStrategy::None);
    g.add_sink("blackhole", 1, (s, Partitioning::Forward), blackhole());
    g
}

fn filter(rows: u64) -> StreamGraph {
    let mut g = StreamGraph::new("filter");
    let s = g.add_source("datagen", 1, source(rows), WatermarkStrategy::None);
    let factory = |_: &SubtaskInfo| {
        let rem = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("value", 1)),
            BinOp::Modulo,
            Arc::new(Literal::new(ScalarValue::Int64(Some(10)))),
        ));
        let pred = Arc::new(BinaryExpr::new(
            rem,
            BinOp::Lt,
            Arc::new(Literal::new(ScalarValue::Int64(Some(3)))),
        ));
        Ok(Box::new(FilterOperator::new(pred)) as Box<dyn Operator>)
    };
    let f = g.add_operator(
        "filter",
        1,
        &[(s, Partitioning::Forward)],
        Arc::new(factory),
    );
    g.add_sink("blackhole", 1, (f, Partitioning::Forward), blackhole());
    g
}

fn tumbling_count(rows: u64) -> StreamGraph {
    let mut g = StreamGraph::new("keyed tumbling count");
    let s = g.add_source("datagen", 1, source(rows), event_time());
    let factory = |_: &SubtaskInfo| {
        let spec = WindowAggregateSpec {
            assigner: WindowAssigner::tumble(1000)?,
            time: WindowTime::EventTime { time_column: 2 },
            key_columns: vec![0],
            aggregates: vec![AggregateSpec::count_star("cnt")],
        };
        create_window_aggregate("TumbleWindow", spec, schema())
    };
    let w = g.add_operator(
        "window",
        1,
        &[(
            s,
            Partitioning::Hash {
                key_columns: vec![0],
            },
        )],
        Arc::new(factory),
    );
    g.add_sink("blackhole", 1, (w, Partitioning::Forward), blackhole());
    g
}

fn main() {
    let rows: u64 = std::env::var("EDDY_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "runtime benchmark: {rows} generated rows, parallelism 1, one slot, 1 tokio worker thread"
    );
    let pipelines: [(&str, fn(u64) -> StreamGraph); 3] = [
        ("passthrough", passthrough),
        ("filter", filter),
        ("keyed tumbling count", tumbling_count),
    ];
    for (name, build) in pipelines {
        let graph = build(rows);
        let started = Instant::now();
        let result = runtime
            .block_on(execute(graph, ExecutionConfig::default()))
            .expect("job");
        let secs = started.elapsed().as_secs_f64();
        let read: u64 = result.of("datagen").map(|m| m.records_in).sum();
        assert_eq!(read, rows, "{name}: every row read");
        println!(
            "{name:>22}: {:>12.0} events/s ({secs:.2} s)",
            rows as f64 / secs
        );
    }
}

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::*;

fn set(specs: &[AggregateSpec], batch: &RecordBatch, retract: bool) -> AggregateSet {
    AggregateSet::new(specs, &batch.schema(), retract, MemoryBudget::unlimited()).unwrap()
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn spec(kind: AggregateKind, col: usize, name: &str) -> AggregateSpec {
    AggregateSpec::new(kind, Some(col), name)
}

#[test]
fn flink_results_and_types_over_bigint() {
    use AggregateKind::*;
    let b = batch(vec![(
        "v",
        Arc::new(Int64Array::from(vec![Some(-7), Some(2), None, Some(10)])) as ArrayRef,
    )]);
    let specs = [
        AggregateSpec::count_star("c"),
        spec(Count, 0, "cv"),
        spec(Sum, 0, "s"),
        spec(Min, 0, "mn"),
        spec(Max, 0, "mx"),
        spec(Avg, 0, "a"),
    ];
    let mut aggs = set(&specs, &b, false);
    let (g0, g1, empty) = (
        aggs.alloc().unwrap(),
        aggs.alloc().unwrap(),
        aggs.alloc().unwrap(),
    );
    // rows 0..3 into g0, row 3 into g1; `empty` gets nothing; row 2 (NULL) into g1 too.
    aggs.update_batch(&b, &[0, 1, 2, 3, 2], &[g0, g0, g0, g1, g1])
        .unwrap();
    let out = aggs.evaluate(&[g0, g1, empty]).unwrap();
    let types: Vec<_> = aggs
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(types, vec![DataType::Int64; 6]);
    assert!(!aggs.fields()[0].is_nullable() && aggs.fields()[2].is_nullable());
    assert_eq!(
        out[0]
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values(),
        &[3, 2, 0]
    );
    assert_eq!(
        out[1].as_ref(),
        &Int64Array::from(vec![2, 1, 0]) as &dyn Array
    );
    assert_eq!(
        out[2].as_ref(),
        &Int64Array::from(vec![Some(-5), Some(10), None]) as &dyn Array
    );
    assert_eq!(
        out[3].as_ref(),
        &Int64Array::from(vec![Some(-7), Some(10), None]) as &dyn Array
    );
    assert_eq!(
        out[4].as_ref(),
        &Int64Array::from(vec![Some(2), Some(10), None]) as &dyn Array
    );
    // Flink truncates: -5 / 2 = -2 (Java long division).
    assert_eq!(
        out[5].as_ref(),
        &Int64Array::from(vec![Some(-2), Some(10), None]) as &dyn Array
    );
}

#[test]
fn int_sum_wraps_and_avg_keeps_the_input_type() {
    use AggregateKind::*;
    let b = batch(vec![
        (
            "i",
            Arc::new(Int32Array::from(vec![i32::MAX, 1, 2])) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float32Array::from(vec![1.0, 2.0, 4.0])) as ArrayRef,
        ),
        (
            "d",
            Arc::new(Float64Array::from(vec![1.0, 2.0, 4.0])) as ArrayRef,
        ),
    ]);
    let specs = [
        spec(Sum, 0, "s"),
        spec(Avg, 0, "a"),
        spec(Avg, 1, "af"),
        spec(Sum, 2, "sd"),
        spec(Avg, 2, "ad"),
    ];
    let mut aggs = set(&specs, &b, false);
    let g = aggs.alloc().unwrap();
    aggs.update_batch(&b, &[0, 1, 2], &[g, g, g]).unwrap();
    let out = aggs.evaluate(&[g]).unwrap();
    // SUM(INT) is INT and wraps like Java's int.
    assert_eq!(
        out[0].as_ref(),
        &Int32Array::from(vec![i32::MIN + 2]) as &dyn Array
    );
    // AVG(INT) sums in BIGINT: (2^31 - 1 + 3) / 3 = 715827883.
    assert_eq!(
        out[1].as_ref(),
        &Int32Array::from(vec![715_827_883]) as &dyn Array
    );
    assert_eq!(out[2].data_type(), &DataType::Float32);
    assert_eq!(
        out[2].as_ref(),
        &Float32Array::from(vec![7.0 / 3.0]) as &dyn Array
    );
    assert_eq!(
        out[3].as_ref(),
        &Float64Array::from(vec![7.0]) as &dyn Array
    );
    assert_eq!(
        out[4].as_ref(),
        &Float64Array::from(vec![7.0 / 3.0]) as &dyn Array
    );
}

#[test]
fn decimal_sum_and_avg_follow_flink_types_and_rounding() {
    use AggregateKind::*;
    let d = Decimal128Array::from(vec![
        Some(100),
        Some(200),
        Some(200),
        Some(-100),
        Some(-200),
        Some(-200),
        None,
    ])
    .with_precision_and_scale(10, 2)
    .unwrap();
    let b = batch(vec![("p", Arc::new(d) as ArrayRef)]);
    let specs = [spec(Sum, 0, "s"), spec(Avg, 0, "a"), spec(Max, 0, "m")];
    let mut aggs = set(&specs, &b, false);
    let (pos, neg, none) = (
        aggs.alloc().unwrap(),
        aggs.alloc().unwrap(),
        aggs.alloc().unwrap(),
    );
    aggs.update_batch(
        &b,
        &[0, 1, 2, 3, 4, 5, 6],
        &[pos, pos, pos, neg, neg, neg, none],
    )
    .unwrap();
    let out = aggs.evaluate(&[pos, neg, none]).unwrap();
    assert_eq!(out[0].data_type(), &DataType::Decimal128(38, 2));
    assert_eq!(
        out[0]
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(500), Some(-500), None]
    );
    // 5.00 / 3 = 1.666666… → DECIMAL(38, 6) rounded half-up: 1.666667.
    assert_eq!(out[1].data_type(), &DataType::Decimal128(38, 6));
    assert_eq!(
        out[1]
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(1_666_667), Some(-1_666_667), None]
    );
    assert_eq!(out[2].data_type(), &DataType::Decimal128(10, 2));
    assert_eq!(
        out[2]
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(200), Some(-100), None]
    );
    assert_eq!(
        avg::decimal_avg(5, 2, 0),
        Some(3),
        "2.5 rounds half-up to 3"
    );
    assert_eq!(avg::decimal_avg(-5, 2, 0), Some(-3));
    // A sum beyond 38 digits is NULL (Flink's decimal overflow).
    assert_eq!(count_sum::decimal38_add(count_sum::DECIMAL38_MAX, 1), None);
}

#[test]
fn min_max_over_strings_and_timestamps_merge() {
    use AggregateKind::*;
    let ts = TimestampMillisecondArray::from(vec![Some(5_000), Some(1_000), None, Some(9_000)]);
    let b = batch(vec![
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("pear"),
                Some("apple"),
                None,
                Some("zoo"),
            ])) as ArrayRef,
        ),
        ("t", Arc::new(ts) as ArrayRef),
    ]);
    let specs = [
        spec(Min, 0, "smin"),
        spec(Max, 0, "smax"),
        spec(Min, 1, "tmin"),
        spec(Max, 1, "tmax"),
        spec(Count, 1, "c"),
    ];
    let mut aggs = set(&specs, &b, false);
    let (a, c) = (aggs.alloc().unwrap(), aggs.alloc().unwrap());
    aggs.update_batch(&b, &[0, 1, 2, 3], &[a, a, c, c]).unwrap();
    aggs.merge(a, c).unwrap();
    assert_eq!(aggs.live_slots(), 1);
    let out = aggs.evaluate(&[a]).unwrap();
    assert_eq!(
        out[0].as_ref(),
        &StringArray::from(vec!["apple"]) as &dyn Array
    );
    assert_eq!(
        out[1].as_ref(),
        &StringArray::from(vec!["zoo"]) as &dyn Array
    );
    assert_eq!(
        out[2].data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, None)
    );
    assert_eq!(
        out[2].as_ref(),
        &TimestampMillisecondArray::from(vec![1_000]) as &dyn Array
    );
    assert_eq!(
        out[3].as_ref(),
        &TimestampMillisecondArray::from(vec![9_000]) as &dyn Array
    );
    assert_eq!(out[4].as_ref(), &Int64Array::from(vec![3]) as &dyn Array);
    // A freed slot comes back empty.
    let again = aggs.alloc().unwrap();
    assert_eq!(again, c);
    assert!(aggs.evaluate(&[again]).unwrap()[0].is_null(0));
}

#[test]
fn retraction_restores_previous_extremes_and_sums() {
    use AggregateKind::*;
    let b = batch(vec![
        (
            "v",
            Arc::new(Int64Array::from(vec![5, 1, 1, 9])) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec!["b", "a", "a", "c"])) as ArrayRef,
        ),
    ]);
    let specs = [
        spec(Min, 0, "mn"),
        spec(Max, 0, "mx"),
        spec(Sum, 0, "s"),
        spec(Avg, 0, "a"),
        spec(Min, 1, "smin"),
        AggregateSpec::count_star("c"),
    ];
    let mut aggs = set(&specs, &b, true);
    let g = aggs.alloc().unwrap();
    let input = aggs.prepare(&b).unwrap();
    aggs.update(&input, &[0, 1, 2, 3], &[g; 4]).unwrap();
    aggs.retract(&input, &[1], &[g]).unwrap(); // one of the two 1s
    let out = aggs.evaluate(&[g]).unwrap();
    assert_eq!(out[0].as_ref(), &Int64Array::from(vec![1]) as &dyn Array);
    assert_eq!(out[4].as_ref(), &StringArray::from(vec!["a"]) as &dyn Array);
    // Retract through scalars (how OVER frames keep rows).
    let scalars = input.row_scalars(2).unwrap();
    let again = PreparedInput::from_row_scalars(&[&scalars], &input).unwrap();
    aggs.retract(&again, &[0], &[g]).unwrap();
    aggs.retract(&input, &[3], &[g]).unwrap();
    let out = aggs.evaluate(&[g]).unwrap();
    assert_eq!(out[0].as_ref(), &Int64Array::from(vec![5]) as &dyn Array);
    assert_eq!(out[1].as_ref(), &Int64Array::from(vec![5]) as &dyn Array);
    assert_eq!(out[2].as_ref(), &Int64Array::from(vec![5]) as &dyn Array);
    assert_eq!(out[3].as_ref(), &Int64Array::from(vec![5]) as &dyn Array);
    assert_eq!(out[4].as_ref(), &StringArray::from(vec!["b"]) as &dyn Array);
    assert_eq!(out[5].as_ref(), &Int64Array::from(vec![1]) as &dyn Array);
    // Everything retracted: NULLs and a zero count.
    aggs.retract(&input, &[0], &[g]).unwrap();
    let out = aggs.evaluate(&[g]).unwrap();
    assert!(out[0].is_null(0) && out[2].is_null(0) && out[3].is_null(0) && out[4].is_null(0));
}

#[test]
fn memory_is_charged_and_returned_and_bad_specs_fail() {
    let memory = MemoryBudget::unlimited();
    let schema = Schema::new(vec![Field::new("s", DataType::Utf8, true)]);
    {
        let mut aggs = AggregateSet::new(
            &[AggregateSpec::count_star("c")],
            &schema,
            false,
            memory.clone(),
        )
        .unwrap();
        for _ in 0..1000 {
            aggs.alloc().unwrap();
        }
        assert!(memory.used() >= 8000);
    }
    assert_eq!(memory.used(), 0);
    let sum_of_string = AggregateSpec::new(AggregateKind::Sum, Some(0), "x");
    assert!(AggregateSet::new(&[sum_of_string], &schema, false, memory.clone()).is_err());
    let out_of_range = AggregateSpec::new(AggregateKind::Max, Some(3), "x");
    assert!(AggregateSet::new(&[out_of_range], &schema, false, memory).is_err());
}

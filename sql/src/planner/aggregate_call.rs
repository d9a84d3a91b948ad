//! Reading an aggregate call in a plan, shared by the group aggregate and the window
//! aggregates: unwrapping its alias, refusing what Eddy does not run yet (DISTINCT,
//! FILTER, ORDER BY) and mapping the function name to an [`AggregateKind`].

use datafusion::logical_expr::Expr;
use datafusion::logical_expr::expr::AggregateFunction;
use eddy_worker::operators::aggregate::AggregateKind;

/// The call `e` (its alias removed), the function and its lower-case name.
pub(crate) fn aggregate_function(e: &Expr) -> Result<(&Expr, &AggregateFunction, String), String> {
    let e = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        other => other,
    };
    let Expr::AggregateFunction(f) = e else {
        return Err(format!("{e} is not an aggregate function"));
    };
    if f.params.distinct || f.params.filter.is_some() || !f.params.order_by.is_empty() {
        return Err(format!(
            "{e}: DISTINCT, FILTER and ORDER BY in aggregates are not supported yet"
        ));
    }
    Ok((e, f, f.func.name().to_ascii_lowercase()))
}

/// The kind of aggregate `func` is, given whether it has an argument (`count(*)` has none).
pub(crate) fn aggregate_kind(func: &str, has_arg: bool) -> Result<AggregateKind, String> {
    Ok(match (func, has_arg) {
        ("count", false) => AggregateKind::CountStar,
        ("count", true) => AggregateKind::Count,
        ("sum", true) => AggregateKind::Sum,
        ("min", true) => AggregateKind::Min,
        ("max", true) => AggregateKind::Max,
        ("avg", true) => AggregateKind::Avg,
        _ => return Err(format!("aggregate function {func} is not supported")),
    })
}

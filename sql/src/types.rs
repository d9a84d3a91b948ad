//! Flink SQL types → Arrow types (what columns hold at run time).

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{DataType as SqlType, ExactNumberInfo, TimezoneInfo};

use crate::error::{Result, SqlError};

/// Maps a column type. `TIMESTAMP(p)` and `TIMESTAMP_LTZ(p)` are kept at millisecond
/// precision (Flink's default `TIMESTAMP(3)`); `STRING`/`VARCHAR` are UTF-8.
pub fn arrow_type(t: &SqlType) -> Result<DataType> {
    use SqlType as S;
    Ok(match t {
        S::Boolean | S::Bool => DataType::Boolean,
        S::TinyInt(_) => DataType::Int8,
        S::SmallInt(_) => DataType::Int16,
        S::Int(_) | S::Integer(_) => DataType::Int32,
        S::BigInt(_) => DataType::Int64,
        S::Float(_) | S::Real => DataType::Float32,
        S::Double(_) | S::DoublePrecision => DataType::Float64,
        S::Decimal(info) | S::Numeric(info) | S::Dec(info) => match info {
            ExactNumberInfo::PrecisionAndScale(p, s) => DataType::Decimal128(*p as u8, *s as i8),
            ExactNumberInfo::Precision(p) => DataType::Decimal128(*p as u8, 0),
            ExactNumberInfo::None => DataType::Decimal128(10, 0),
        },
        S::String(_)
        | S::Varchar(_)
        | S::Char(_)
        | S::CharVarying(_)
        | S::Text
        | S::Character(_) => DataType::Utf8,
        S::Bytea | S::Binary(_) | S::Varbinary(_) | S::Blob(_) => DataType::Binary,
        S::Date => DataType::Date32,
        S::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            DataType::Timestamp(TimeUnit::Millisecond, None)
        }
        S::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        S::Custom(name, _) => {
            let n = name.to_string().to_ascii_uppercase();
            match n.as_str() {
                "TIMESTAMP_LTZ" => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                "STRING" => DataType::Utf8,
                "BYTES" => DataType::Binary,
                _ => return Err(SqlError::new(format!("unsupported type {t}"))),
            }
        }
        other => return Err(SqlError::new(format!("unsupported type {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;
    use crate::script::dialect;

    fn parse(t: &str) -> DataType {
        let d = dialect();
        let ty = Parser::new(&d)
            .try_with_sql(t)
            .unwrap()
            .parse_data_type()
            .unwrap();
        arrow_type(&ty).unwrap()
    }

    #[test]
    fn flink_types() {
        assert_eq!(parse("BIGINT"), DataType::Int64);
        assert_eq!(parse("STRING"), DataType::Utf8);
        assert_eq!(parse("DECIMAL(23, 3)"), DataType::Decimal128(23, 3));
        assert_eq!(
            parse("TIMESTAMP(3)"),
            DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(
            parse("TIMESTAMP_LTZ(3)"),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(parse("DOUBLE"), DataType::Float64);
    }
}

//! `POST /api/v1/sql/validate` on a running standalone: the planned job graph for a
//! valid script; 400 `{"code","message","line","column"}` for an invalid one.

use eddy_integration::Standalone;
use serde_json::{Value, json};

async fn validate(s: &Standalone, body: Value) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/sql/validate", s.url))
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

const SCRIPT: &str = "CREATE TABLE bid (\n  auction BIGINT,\n  price BIGINT,\n  date_time TIMESTAMP(3),\n  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND\n) WITH ('connector' = 'datagen', 'number-of-rows' = '10');\nCREATE TABLE out (window_start TIMESTAMP(3), window_end TIMESTAMP(3), auction BIGINT, cnt BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO out\nSELECT window_start, window_end, auction, COUNT(*) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))\nGROUP BY window_start, window_end, auction;";

#[tokio::test]
async fn valid_sql_returns_the_planned_job_graph() -> anyhow::Result<()> {
    let s = Standalone::start(&[]).await?;
    let (status, body) = validate(&s, json!({"sql": SCRIPT, "parallelism": 2})).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    let vertices = body["graph"]["vertices"].as_array().unwrap();
    assert_eq!(vertices.len(), 2, "source chain and window chain: {body}");
    assert!(
        vertices[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("Source: bid"),
        "{body}"
    );
    assert!(
        vertices[1]["name"]
            .as_str()
            .unwrap()
            .contains("TumbleWindow"),
        "{body}"
    );
    assert!(vertices.iter().all(|v| v["parallelism"] == 2), "{body}");
    let edges = body["graph"]["edges"].as_array().unwrap();
    assert_eq!(edges[0]["partitioning"], "HASH", "{body}");
    Ok(())
}

#[tokio::test]
async fn invalid_sql_is_a_400_with_line_and_column() -> anyhow::Result<()> {
    let s = Standalone::start(&[]).await?;
    let bad = SCRIPT.replace("COUNT(*) FROM", "COUNT(*), nope FROM");
    let (status, body) = validate(&s, json!({"sql": bad})).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_sql");
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
    assert_eq!(body["line"], 9, "{body}");
    assert!(body["column"].as_u64().unwrap() > 1, "{body}");
    let (status, body) = validate(&s, json!({"sql": "SELEC 1"})).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["line"], 1, "{body}");
    Ok(())
}

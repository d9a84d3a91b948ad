//! The dashboard's job pages in a real headless Chromium (chromedriver + fantoccini)
//! against `eddy standalone`: a job created from the SQL editor (template, options,
//! graph preview, submit) opens its page and turns RUNNING without a reload, its graph is
//! drawn with a vertex per vertex and the partitioning on the edge, a checkpoint row
//! appears, the checkpoint detail has a timeline row per subtask, the slots page shows
//! the job's slots allocated and free again after cancelling (with confirmation); an SQL
//! error shows at its line while typing. Screenshots of every page land in the
//! screenshot directory as artifacts.

use std::time::Duration;

use anyhow::{Context, bail};
use eddy_integration::browser::Browser;
use eddy_integration::{Standalone, WAIT, wait_for};
use fantoccini::Locator;

/// Two source subtasks rebalanced onto three sink subtasks (the editor's "rebalance"
/// template): two vertices, one REBALANCE edge, three slots with slot sharing.
const TEMPLATE: &str = "rebalance";

/// Line 4 names a column that does not exist.
const BAD_SQL: &str = "CREATE TABLE src (id BIGINT, v INT) WITH ('connector' = 'datagen');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole');
INSERT INTO snk
SELECT id, nope FROM src;";

const GOOD_SQL: &str = "CREATE TABLE src (id BIGINT, v INT) WITH ('connector' = 'datagen');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole');
INSERT INTO snk
SELECT id, v FROM src;";

/// A standalone with 4 slots and fast heartbeats (slot and metrics reports), and a loss
/// timeout generous enough that a loaded CI machine does not lose its worker.
async fn standalone() -> anyhow::Result<Standalone> {
    Standalone::start(&[
        "--slots",
        "4",
        "--heartbeat-interval",
        "200ms",
        "--heartbeat-timeout",
        "15s",
    ])
    .await
}

/// `attr` of every element matching `css` (elements replaced meanwhile are an error the
/// caller's wait retries).
async fn attrs(browser: &Browser, css: &str, attr: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for element in browser.client.find_all(Locator::Css(css)).await? {
        out.push(element.attr(attr).await?.unwrap_or_default());
    }
    Ok(out)
}

/// Texts of every element matching `css`.
async fn texts(browser: &Browser, css: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for element in browser.client.find_all(Locator::Css(css)).await? {
        out.push(element.text().await?);
    }
    Ok(out)
}

/// Clicks the first element matching `css`, retrying while live updates replace it.
async fn click(browser: &Browser, css: &str) -> anyhow::Result<()> {
    wait_for(&format!("click {css}"), WAIT, || async {
        browser
            .client
            .find(Locator::Css(css))
            .await?
            .click()
            .await?;
        Ok(Some(()))
    })
    .await
}

/// Waits until the first element matching `css` has `attr` = `value`.
async fn wait_attr(browser: &Browser, css: &str, attr: &str, value: &str) -> anyhow::Result<()> {
    let last = std::sync::Mutex::new(Vec::new());
    let waited = wait_for(&format!("{css} with {attr}={value}"), WAIT, || async {
        let values = attrs(browser, css, attr).await?;
        let found = values.first().map(String::as_str) == Some(value);
        if let Ok(mut last) = last.lock() {
            *last = values;
        }
        Ok(found.then_some(()))
    })
    .await;
    let last = last.lock().map(|l| l.clone()).unwrap_or_default();
    waited.with_context(|| format!("last values: {last:?}"))
}

/// The path of the current URL.
async fn path(browser: &Browser) -> anyhow::Result<String> {
    Ok(browser.client.current_url().await?.path().to_string())
}

/// Ends the browser session; on a failed `result` first saves a screenshot and prints
/// the page source.
async fn finish(browser: Browser, name: &str, result: anyhow::Result<()>) -> anyhow::Result<()> {
    if result.is_err() {
        let _ = browser.screenshot(&format!("{name}-failure")).await;
        if let Ok(source) = browser.client.source().await {
            eprintln!("---- page source at failure ----\n{source}");
        }
    }
    let closed = browser.close().await;
    result.context(name.to_string())?;
    closed
}

#[tokio::test]
async fn a_job_created_in_the_editor_runs_checkpoints_and_fills_slots() -> anyhow::Result<()> {
    let s = standalone().await?;
    let browser = Browser::start().await?;
    let result = create_run_and_cancel(&browser, &s).await;
    finish(browser, "dashboard-jobs", result)
        .await
        .with_context(|| format!("---- eddy ----\n{}", s.process.output()))
}

async fn create_run_and_cancel(browser: &Browser, s: &Standalone) -> anyhow::Result<()> {
    // The jobs list starts empty and links to the editor.
    browser.client.goto(&format!("{}/jobs", s.url)).await?;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid='no-jobs']"))
        .await?;
    click(browser, "[data-testid='new-job']").await?;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("textarea[data-testid='sql-editor']"))
        .await?;

    // An example template, validated as it lands, with its planned graph previewed.
    click(browser, &format!("button[data-template='{TEMPLATE}']")).await?;
    wait_attr(browser, "[data-testid='sql-status']", "data-state", "valid").await?;
    let preview = wait_for("a preview of two vertices", WAIT, || async {
        let vertices = attrs(
            browser,
            "[data-testid='graph-preview'] [data-testid='vertex']",
            "data-parallelism",
        )
        .await?;
        Ok((vertices.len() == 2).then_some(vertices))
    })
    .await?;
    assert_eq!(preview, ["2", "3"], "source and sink parallelism");
    let labels = texts(
        browser,
        "[data-testid='graph-preview'] [data-testid='edge-label']",
    )
    .await?;
    assert_eq!(labels, ["REBALANCE"]);
    let lines = texts(browser, ".sql-gutter .ln").await?;
    assert!(lines.len() >= 20, "line numbers: {lines:?}");
    assert!(
        !browser
            .client
            .find_all(Locator::Css(".sql-highlight .tok-kw"))
            .await?
            .is_empty(),
        "keywords are highlighted"
    );
    browser.screenshot_full_page("new-job").await?;

    // Options, then submit: the job's page opens and turns RUNNING by itself.
    browser
        .client
        .find(Locator::Css("[data-testid='job-name']"))
        .await?
        .send_keys("dashboard-e2e")
        .await?;
    browser
        .client
        .find(Locator::Css("[data-testid='checkpoint-interval']"))
        .await?
        .send_keys("300")
        .await?;
    click(browser, "[data-testid='submit-job']").await?;
    let id = wait_for("the job's page", WAIT, || async {
        let path = path(browser).await?;
        Ok(path
            .strip_prefix("/jobs/")
            .filter(|rest| !rest.is_empty() && *rest != "new" && !rest.contains('/'))
            .map(str::to_string))
    })
    .await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "RUNNING",
    )
    .await?;
    let name = texts(browser, "h1[data-testid='job-name']").await?;
    assert_eq!(name, ["dashboard-e2e"]);

    // The graph: one box per vertex, the partitioning on the edge; the subtasks.
    let job = s.get(&format!("/api/v1/jobs/{id}")).await?;
    let api_vertices = job["vertices"].as_array().map(Vec::len).unwrap_or(0);
    let drawn = wait_for("the job graph", WAIT, || async {
        let ids = attrs(
            browser,
            "[data-testid='job-graph'] [data-testid='vertex']",
            "data-vertex-id",
        )
        .await?;
        Ok((!ids.is_empty()).then_some(ids))
    })
    .await?;
    assert_eq!(drawn.len(), api_vertices, "{job:#}");
    let labels = texts(
        browser,
        "[data-testid='job-graph'] [data-testid='edge-label']",
    )
    .await?;
    assert_eq!(labels, ["REBALANCE"]);
    wait_for("5 running subtasks", WAIT, || async {
        let states = attrs(browser, "[data-testid='subtask-row']", "data-status").await?;
        Ok((states.len() == 5 && states.iter().all(|s| s == "RUNNING")).then_some(()))
    })
    .await?;
    browser.screenshot_full_page("job").await?;

    // Clicking a vertex shows only its subtasks.
    let sink = "[data-testid='job-graph'] [data-testid='vertex'][data-parallelism='3']";
    click(browser, sink).await?;
    wait_for("only the 3 sink subtasks shown", WAIT, || async {
        let mut shown = 0;
        for row in browser
            .client
            .find_all(Locator::Css("[data-testid='subtask-row']"))
            .await?
        {
            if row.is_displayed().await? {
                shown += 1;
            }
        }
        Ok((shown == 3).then_some(()))
    })
    .await?;
    browser.screenshot_full_page("job-vertex-selected").await?;

    // Checkpoints: a completed one appears in the history without a reload.
    click(browser, "[data-testid='checkpoints-link']").await?;
    let checkpoint = wait_for("a completed checkpoint row", WAIT, || async {
        let rows = browser
            .client
            .find_all(Locator::Css(
                "[data-testid='checkpoint-row'][data-status='COMPLETED']",
            ))
            .await?;
        match rows.first() {
            Some(row) => Ok(row.attr("data-checkpoint-id").await?),
            None => Ok(None),
        }
    })
    .await?;
    wait_for("the duration chart's bars", WAIT, || async {
        let bars = browser
            .client
            .find_all(Locator::Css(
                "[data-testid='chart-duration'] [data-testid='chart-bar']",
            ))
            .await?;
        Ok((!bars.is_empty()).then_some(()))
    })
    .await?;
    browser.screenshot_full_page("checkpoints").await?;

    // Its detail: a timeline row per subtask.
    browser
        .client
        .goto(&format!("{}/jobs/{id}/checkpoints/{checkpoint}", s.url))
        .await?;
    wait_for("5 timeline rows", WAIT, || async {
        let rows = browser
            .client
            .find_all(Locator::Css("[data-testid='timeline-row']"))
            .await?;
        Ok((rows.len() == 5).then_some(()))
    })
    .await?;
    browser.screenshot_full_page("checkpoint-detail").await?;

    // Slots: the job holds three (slot sharing), one is free.
    click(browser, "nav a[href='/slots']").await?;
    wait_for("3 slots of the job and 1 free", WAIT, || async {
        let states = attrs(browser, "[data-testid='slot']", "data-state").await?;
        let jobs = attrs(browser, "[data-testid='slot']", "data-job-id").await?;
        let mine = jobs.iter().filter(|j| **j == id).count();
        let free = states.iter().filter(|s| *s == "free").count();
        Ok((states.len() == 4 && mine == 3 && free == 1).then_some(()))
    })
    .await?;
    // Hovering an allocated slot tells its job (by name), the subtasks and memory.
    let title = wait_for("a slot tooltip naming the job", WAIT, || async {
        let titles = attrs(
            browser,
            "[data-testid='slot'][data-state='allocated']",
            "title",
        )
        .await?;
        Ok(titles.into_iter().find(|t| t.contains("dashboard-e2e")))
    })
    .await?;
    assert!(
        title.contains("Managed memory") && title.contains("Subtasks sharing"),
        "{title}"
    );
    browser.screenshot_full_page("slots").await?;

    // Narrow windows.
    browser.client.set_window_size(420, 900).await?;
    browser.screenshot_full_page("slots-narrow").await?;
    click(browser, "[data-testid='slot-job']").await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "RUNNING",
    )
    .await?;
    browser.screenshot_full_page("job-narrow").await?;
    browser.client.set_window_size(1280, 900).await?;

    // Cancel asks first, then the job ends and its slots are free again.
    click(browser, "[data-testid='cancel-job']").await?;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid='confirm-dialog']"))
        .await?;
    browser.screenshot("job-cancel-confirm").await?;
    click(browser, "[data-testid='confirm']").await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "CANCELED",
    )
    .await?;
    click(browser, "nav a[href='/slots']").await?;
    wait_for("every slot free again", WAIT, || async {
        let states = attrs(browser, "[data-testid='slot']", "data-state").await?;
        Ok((states.len() == 4 && states.iter().all(|s| s == "free")).then_some(()))
    })
    .await?;

    click(browser, "nav a[href='/jobs']").await?;
    wait_attr(
        browser,
        "[data-testid='job-row']",
        "data-status",
        "CANCELED",
    )
    .await?;
    let rows = attrs(browser, "[data-testid='job-row']", "data-job-id").await?;
    if rows != [id.clone()] {
        bail!("jobs list: {rows:?}, want [{id}]");
    }
    browser.screenshot_full_page("jobs").await?;

    // The overview lists the job and the status changes seen since the page opened
    // (the event stream lives as long as the app, across client-side navigation).
    click(browser, "nav a[href='/']").await?;
    wait_attr(
        browser,
        "[data-testid='job-row']",
        "data-status",
        "CANCELED",
    )
    .await?;
    wait_for(
        "job status changes among the recent changes",
        WAIT,
        || async {
            let events = attrs(browser, "[data-testid='recent-event']", "data-event").await?;
            Ok(events
                .iter()
                .any(|e| e == "job_status_changed")
                .then_some(()))
        },
    )
    .await?;
    browser.screenshot_full_page("overview-jobs").await?;
    Ok(())
}

#[tokio::test]
async fn an_sql_error_shows_at_its_line_while_typing() -> anyhow::Result<()> {
    let s = standalone().await?;
    let browser = Browser::start().await?;
    let result = sql_error_at_its_line(&browser, &s).await;
    finish(browser, "dashboard-sql-error", result).await
}

async fn sql_error_at_its_line(browser: &Browser, s: &Standalone) -> anyhow::Result<()> {
    browser.client.goto(&format!("{}/jobs/new", s.url)).await?;
    let editor = browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("textarea[data-testid='sql-editor']"))
        .await?;
    editor.clear().await?;
    editor.send_keys(BAD_SQL).await?;
    // Typing validates on the way; wait for the error of the whole script.
    let last = std::sync::Mutex::new(String::new());
    let waited = wait_for("the SQL error at line 4", WAIT, || async {
        let errors = browser
            .client
            .find_all(Locator::Css("[data-testid='sql-error']"))
            .await?;
        let mut seen = Vec::new();
        for error in &errors {
            seen.push((error.attr("data-line").await?, error.text().await?));
        }
        if let Ok(mut last) = last.lock() {
            *last = format!("{seen:?}");
        }
        Ok(match seen.as_slice() {
            [(Some(line), message)] if line == "4" => Some(message.clone()),
            _ => None,
        })
    })
    .await;
    let last = last.lock().map(|l| l.clone()).unwrap_or_default();
    let message = waited.with_context(|| format!("errors shown: {last}"))?;
    assert!(message.contains("nope"), "{message}");
    let marked = texts(browser, ".sql-gutter .ln-error").await?;
    assert_eq!(marked, ["4"]);
    // The message sits on line 4 of the highlighted text.
    let before = browser
        .client
        .execute(
            "const e = document.querySelector(\"[data-testid='sql-error']\");
             const r = document.createRange();
             r.setStart(e.parentNode.closest('pre'), 0);
             r.setEndBefore(e);
             return r.toString().split('\\n').length;",
            vec![],
        )
        .await?;
    assert_eq!(before.as_u64(), Some(4), "the error follows line 4");
    browser.screenshot_full_page("new-job-sql-error").await?;

    // Fixing the script clears the error and previews the graph.
    editor.clear().await?;
    editor.send_keys(GOOD_SQL).await?;
    wait_attr(browser, "[data-testid='sql-status']", "data-state", "valid").await?;
    let errors = browser
        .client
        .find_all(Locator::Css("[data-testid='sql-error']"))
        .await?;
    assert!(errors.is_empty(), "no error left");
    wait_for("the preview", WAIT, || async {
        let vertices = browser
            .client
            .find_all(Locator::Css(
                "[data-testid='graph-preview'] [data-testid='vertex']",
            ))
            .await?;
        Ok((!vertices.is_empty()).then_some(()))
    })
    .await?;
    browser.client.set_window_size(420, 900).await?;
    browser.screenshot_full_page("new-job-narrow").await?;
    Ok(())
}

/// One chained vertex whose parallelism is the job's default (so rescaling shows).
const STATELESS: &str = "CREATE TABLE src (id BIGINT, v INT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '500');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id, v FROM src;";

#[tokio::test]
async fn savepoint_stop_and_rescale_from_the_job_page() -> anyhow::Result<()> {
    let s = standalone().await?;
    let browser = Browser::start().await?;
    let result = job_actions(&browser, &s).await;
    finish(browser, "dashboard-job-actions", result)
        .await
        .with_context(|| format!("---- eddy ----\n{}", s.process.output()))
}

/// Submits [`STATELESS`] with checkpoints over REST; returns the job id.
async fn submit_stateless(s: &Standalone, name: &str) -> anyhow::Result<String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.url))
        .json(&serde_json::json!({
            "sql": STATELESS, "name": name, "parallelism": 1, "checkpoint_interval_ms": 500
        }))
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["id"].as_str().context("job id")?.to_string())
}

/// Clicks `action`'s button and waits for its confirmation.
async fn confirm_action(browser: &Browser, action: &str) -> anyhow::Result<()> {
    click(browser, &format!("[data-testid='{action}']")).await?;
    wait_attr(
        browser,
        "[data-testid='confirm-dialog']",
        "data-action",
        action,
    )
    .await?;
    Ok(())
}

async fn job_actions(browser: &Browser, s: &Standalone) -> anyhow::Result<()> {
    let id = submit_stateless(s, "actions").await?;
    browser.client.goto(&format!("{}/jobs/{id}", s.url)).await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "RUNNING",
    )
    .await?;

    // A savepoint: asked first, then its operation completes (shown live).
    confirm_action(browser, "savepoint-job").await?;
    browser.screenshot("job-savepoint-confirm").await?;
    click(browser, "[data-testid='confirm']").await?;
    wait_attr(
        browser,
        "[data-testid='savepoint-operation']",
        "data-status",
        "COMPLETED",
    )
    .await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "RUNNING",
    )
    .await?;
    browser.screenshot_full_page("job-savepoint").await?;

    // Stop with a savepoint, draining: the job finishes.
    confirm_action(browser, "stop-job").await?;
    click(browser, "[data-testid='stop-drain']").await?;
    wait_for("drain ticked", WAIT, || async {
        let checked = browser
            .client
            .find(Locator::Css("[data-testid='stop-drain']"))
            .await?
            .prop("checked")
            .await?;
        Ok((checked.as_deref() == Some("true")).then_some(()))
    })
    .await?;
    browser.screenshot("job-stop-confirm").await?;
    click(browser, "[data-testid='confirm']").await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "FINISHED",
    )
    .await?;
    browser.screenshot_full_page("job-stopped").await?;

    // Rescale: the new parallelism is asked for; the job stops with a savepoint and
    // its next attempt is the rescaled one (its status history says so).
    let id = submit_stateless(s, "rescaled").await?;
    browser.client.goto(&format!("{}/jobs/{id}", s.url)).await?;
    wait_attr(
        browser,
        "[data-testid='job-status']",
        "data-status",
        "RUNNING",
    )
    .await?;
    confirm_action(browser, "rescale-job").await?;
    wait_for("the new parallelism typed", WAIT, || async {
        let field = browser
            .client
            .find(Locator::Css("[data-testid='rescale-parallelism']"))
            .await?;
        field.clear().await?;
        field.send_keys("2").await?;
        Ok((field.prop("value").await?.as_deref() == Some("2")).then_some(()))
    })
    .await?;
    browser.screenshot("job-rescale-confirm").await?;
    click(browser, "[data-testid='confirm']").await?;
    wait_attr(
        browser,
        "[data-testid='savepoint-operation']",
        "data-status",
        "COMPLETED",
    )
    .await?;
    wait_for("the rescale in the status history", WAIT, || async {
        let details = texts(browser, "[data-testid='status-change'] .detail").await?;
        Ok(details
            .iter()
            .any(|d| d.contains("rescaling to parallelism 2"))
            .then_some(()))
    })
    .await?;
    browser.screenshot_full_page("job-rescaled").await?;
    Ok(())
}

/// A keyed hour-long tumbling window over 40 keys: its state is in every checkpoint.
const KEYED: &str = "SET 'execution.checkpointing.interval' = '300 ms';
SET 'execution.checkpointing.num-retained' = '20';
CREATE TABLE src (k INT, v BIGINT, ts AS PROCTIME()) WITH ('connector' = 'datagen',
  'rows-per-second' = '2000', 'fields.k.min' = '1', 'fields.k.max' = '40');
CREATE TABLE snk (k INT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' HOUR))
GROUP BY k, window_start, window_end;";

#[tokio::test]
async fn the_state_browser_pages_and_searches_a_windows_keys() -> anyhow::Result<()> {
    let s = standalone().await?;
    let browser = Browser::start().await?;
    let result = state_browser(&browser, &s).await;
    finish(browser, "dashboard-state-browser", result)
        .await
        .with_context(|| format!("---- eddy ----\n{}", s.process.output()))
}

async fn state_browser(browser: &Browser, s: &Standalone) -> anyhow::Result<()> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.url))
        .json(&serde_json::json!({"sql": KEYED, "name": "keyed", "parallelism": 2}))
        .send()
        .await?
        .json()
        .await?;
    let id = answer["id"].as_str().context("job id")?.to_string();
    let cid = wait_for("2 completed checkpoints", WAIT, || async {
        let stats = s.get(&format!("/api/v1/jobs/{id}/checkpoints")).await?;
        Ok((stats["counts"]["completed"].as_u64() >= Some(2))
            .then(|| stats["latest"]["completed"]["id"].as_u64())
            .flatten())
    })
    .await?;

    // The detail page opens the window's state, a page at a time.
    browser
        .client
        .goto(&format!("{}/jobs/{id}/checkpoints/{cid}", s.url))
        .await?;
    let total = wait_for("the window's keys", WAIT, || async {
        let totals = attrs(browser, "[data-testid='state-summary']", "data-total").await?;
        Ok(totals
            .first()
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t >= 30))
    })
    .await?;
    let first_page = attrs(browser, "[data-testid='state-entry']", "data-key").await?;
    assert_eq!(first_page.len() as u64, total.min(25), "one page");
    browser.screenshot_full_page("checkpoint-state").await?;

    // Next page: other keys.
    click(browser, "[data-testid='state-next']").await?;
    wait_for("the second page", WAIT, || async {
        let keys = attrs(browser, "[data-testid='state-entry']", "data-key").await?;
        Ok((!keys.is_empty() && keys != first_page).then_some(()))
    })
    .await?;

    // A key prefix narrows it down.
    browser
        .client
        .find(Locator::Css("[data-testid='state-prefix']"))
        .await?
        .send_keys("3")
        .await?;
    wait_for("only keys starting with 3", WAIT, || async {
        let keys = attrs(browser, "[data-testid='state-entry']", "data-key").await?;
        Ok((!keys.is_empty() && keys.iter().all(|k| k.starts_with('3'))).then_some(()))
    })
    .await?;
    browser
        .screenshot_full_page("checkpoint-state-prefix")
        .await?;
    Ok(())
}

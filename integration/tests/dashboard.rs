//! The dashboard in a real headless Chromium (chromedriver + fantoccini): the overview
//! shows the worker's slots, updates live when a worker joins, and the cluster page
//! shows the masters. Screenshots land in the screenshot directory as artifacts.

use std::time::Duration;

use anyhow::Context;
use eddy_integration::browser::Browser;
use eddy_integration::{EddyProcess, Standalone, WAIT, wait_for};
use fantoccini::Locator;

async fn slot_states(browser: &Browser) -> anyhow::Result<Vec<String>> {
    let mut states = Vec::new();
    for slot in browser
        .client
        .find_all(Locator::Css("[data-testid='slot']"))
        .await?
    {
        states.push(slot.attr("data-state").await?.unwrap_or_default());
    }
    Ok(states)
}

#[tokio::test]
async fn overview_and_cluster_pages_show_slots_and_masters() -> anyhow::Result<()> {
    let s = Standalone::start(&[
        "--slots",
        "4",
        "--heartbeat-interval",
        "200ms",
        "--heartbeat-timeout",
        "3s",
    ])
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        browser.client.goto(&s.url).await?;
        let states = wait_for("4 slots on the overview", WAIT, || async {
            let states = slot_states(&browser).await?;
            Ok(Some(states).filter(|s| s.len() == 4))
        })
        .await?;
        assert!(states.iter().all(|s| s == "free"), "{states:?}");
        let workers = browser
            .client
            .find_all(Locator::Css("[data-testid='worker']"))
            .await?;
        assert_eq!(workers.len(), 1);
        browser.screenshot("overview").await?;

        // A worker joining shows up without a reload (the page follows /api/v1/events).
        let _joined = EddyProcess::spawn(
            "worker",
            &["worker", "--master", &s.url, "--slots", "2"],
            &[],
        )?;
        wait_for("6 slots after a worker joined", WAIT, || async {
            Ok((slot_states(&browser).await?.len() == 6).then_some(()))
        })
        .await?;
        let workers = browser
            .client
            .find_all(Locator::Css("[data-testid='worker']"))
            .await?;
        assert_eq!(workers.len(), 2);
        browser.screenshot("overview-two-workers").await?;

        // Client-side navigation to the cluster page.
        browser
            .client
            .find(Locator::Css("a[href='/cluster']"))
            .await?
            .click()
            .await?;
        let master = wait_for("a master row", WAIT, || async {
            let rows = browser
                .client
                .find_all(Locator::Css("[data-testid='master']"))
                .await?;
            match rows.first() {
                Some(row) => Ok(Some(row.text().await?)),
                None => Ok(None),
            }
        })
        .await?;
        assert!(master.to_lowercase().contains("leader"), "{master}");
        assert!(
            master.contains(&s.url.trim_start_matches("http://").to_string()),
            "{master}"
        );
        browser.screenshot("cluster").await?;

        // A direct visit of a client-side route loads the app too.
        browser.client.goto(&format!("{}/cluster", s.url)).await?;
        browser
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("[data-testid='master']"))
            .await?;
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        let _ = browser.screenshot("failure").await;
        if let Ok(source) = browser.client.source().await {
            eprintln!("---- page source at failure ----\n{source}");
        }
    }
    let closed = browser.close().await;
    result.context("dashboard test")?;
    closed
}

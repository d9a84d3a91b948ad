//! Real headless Chromium over WebDriver (chromedriver + fantoccini), for dashboard tests.
//! Screenshots go to `$EDDY_SCREENSHOT_DIR` (default `target/screenshots`), as artifacts.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// Tallest window a full-page screenshot grows to.
const MAX_SCREENSHOT_HEIGHT: u64 = 5000;

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

fn chromedriver_path() -> String {
    std::env::var("EDDY_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into())
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        let port = crate::free_port();
        let driver = Command::new(chromedriver_path())
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start chromedriver (make test installs chromium-driver)")?;
        let user_data =
            std::env::temp_dir().join(format!("eddy-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut caps = serde_json::Map::new();
        let mut opts = serde_json::json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", user_data.display()),
            ]
        });
        if let Ok(bin) = std::env::var("EDDY_CHROMIUM") {
            opts["binary"] = serde_json::Value::String(bin);
        }
        caps.insert("goog:chromeOptions".into(), opts);
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::wait_for("chromedriver session", Duration::from_secs(30), || {
            let caps = caps.clone();
            let url = url.clone();
            async move {
                match ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&url)
                    .await
                {
                    Ok(c) => Ok(Some(c)),
                    Err(e) => Err(anyhow::anyhow!("{e}")),
                }
            }
        })
        .await?;
        Ok(Browser { client, driver })
    }

    /// Saves a PNG of the current page as `NAME.png` in the screenshot directory.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = std::env::var_os("EDDY_SCREENSHOT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                crate::eddy_bin()
                    .parent()
                    .map(|d| d.join("screenshots"))
                    .unwrap_or_default()
            });
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Like [`Browser::screenshot`], but of the whole page: the window grows to the
    /// document's height (at most `MAX_SCREENSHOT_HEIGHT`) for the shot, then returns
    /// to its size.
    pub async fn screenshot_full_page(&self, name: &str) -> anyhow::Result<PathBuf> {
        let (width, height) = self.client.get_window_size().await?;
        // The window is taller than its viewport by the browser's own frame; grow until
        // nothing scrolls (the layout may change with the height, so measure again).
        for _ in 0..3 {
            let sizes = self
                .client
                .execute(
                    "return [Math.ceil(document.documentElement.scrollHeight), \
                     window.innerHeight, window.outerHeight]",
                    vec![],
                )
                .await?;
            let size = |i: usize| sizes.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
            let (document, viewport, outer) = (size(0), size(1), size(2));
            if document <= viewport || outer >= MAX_SCREENSHOT_HEIGHT {
                break;
            }
            let frame = outer.saturating_sub(viewport);
            let target = (document + frame).clamp(height, MAX_SCREENSHOT_HEIGHT);
            self.client
                .set_window_size(width as u32, target as u32)
                .await?;
            // Let the page lay out at the new size.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let shot = self.screenshot(name).await;
        self.client
            .set_window_size(width as u32, height as u32)
            .await?;
        shot
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        result.map_err(Into::into)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

//! A real headless Chromium driven over the W3C WebDriver protocol (Debian's chromium and
//! chromium-driver; `scripts/test.sh` installs them when missing). Only loopback traffic: the
//! browser starts with background networking off.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The WebDriver key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn program(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// One browser session with its own chromedriver process and profile folder.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        let driver_bin = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chrome_bin = program("CHROME_BIN", "/usr/bin/chromium");
        if !driver_bin.exists() || !chrome_bin.exists() {
            bail!(
                "browser tests need Debian's chromium and chromium-driver ({} and {}); `bash scripts/test.sh` installs them",
                chrome_bin.display(),
                driver_bin.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", driver_bin.display()))?;
        let profile = tempfile::tempdir()?;
        let http = crate::http_builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            session: base.clone(),
            driver,
            _profile: profile,
        };
        let deadline = fieldloop_server::clock::monotonic() + Duration::from_secs(20);
        loop {
            if let Ok(r) = browser.http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            if fieldloop_server::clock::monotonic() > deadline {
                bail!("chromedriver did not start on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome_bin.to_string_lossy(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run", "--window-size=1280,1000",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ]
            }
        }}});
        let answer: Value = browser
            .http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = answer["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no WebDriver session: {answer}"))?;
        browser.session = format!("{base}/session/{id}");
        Ok(browser)
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        } else {
            req = req.json(&json!({}));
        }
        let resp = req.send().await?;
        let status = resp.status();
        let answer: Value = resp.json().await?;
        if !status.is_success() {
            bail!("WebDriver {path}: {}", answer["value"]);
        }
        Ok(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await?;
        Ok(())
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self
            .command(reqwest::Method::GET, "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> anyhow::Result<String> {
        Ok(self
            .command(reqwest::Method::GET, "/source", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Finds an element by CSS selector, waiting up to five seconds for it.
    pub async fn find(&self, css: &str) -> anyhow::Result<String> {
        let deadline = fieldloop_server::clock::monotonic() + Duration::from_secs(5);
        loop {
            match self
                .command(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await
            {
                Ok(v) => {
                    return v[ELEMENT]
                        .as_str()
                        .map(str::to_string)
                        .context("no element reference");
                }
                Err(e) if fieldloop_server::clock::monotonic() > deadline => {
                    return Err(e.context(format!("no element '{css}'")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// How many elements match now (no waiting).
    pub async fn count(&self, css: &str) -> anyhow::Result<usize> {
        let v = self
            .command(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array().map(Vec::len).unwrap_or(0))
    }

    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{el}/clear"), None)
            .await?;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{el}/click"), None)
            .await?;
        Ok(())
    }

    /// Clicks something that loads another page (a submit button, a link) and waits until
    /// the page it was on is gone, so that what is read next is read from the new page and
    /// not from the old one (both may show a `.flash`).
    pub async fn submit(&self, css: &str) -> anyhow::Result<()> {
        let old = self.find("html").await?;
        self.click(css).await?;
        let deadline = fieldloop_server::clock::monotonic() + Duration::from_secs(10);
        loop {
            let same = self
                .command(reqwest::Method::GET, &format!("/element/{old}/name"), None)
                .await
                .is_ok();
            if !same {
                self.find("body").await?;
                return Ok(());
            }
            if fieldloop_server::clock::monotonic() > deadline {
                anyhow::bail!("clicking '{css}' did not load another page");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let el = self.find(css).await?;
        Ok(self
            .command(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Signs in through the sign-in page and waits for the start page.
    pub async fn sign_in(&self, base: &str, username: &str) -> anyhow::Result<()> {
        self.command(reqwest::Method::DELETE, "/cookie", None)
            .await?;
        self.goto(&format!("{base}/web/login")).await?;
        self.type_into("#username", username).await?;
        self.type_into("#password", &format!("{username}-password-for-tests"))
            .await?;
        self.submit("#sign-in").await?;
        self.find("header nav").await?;
        Ok(())
    }

    /// Runs a script in the page and returns what it returns.
    pub async fn script(&self, js: &str) -> anyhow::Result<Value> {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    /// The page's text as a person sees it (closed details, scripts and hidden parts left out).
    pub async fn visible_text(&self) -> anyhow::Result<String> {
        Ok(self
            .script("return document.body.innerText;")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Every link's target on the page, as written in its `href`.
    pub async fn links(&self) -> anyhow::Result<Vec<String>> {
        let v = self
            .script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));")
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sets a form field's value as a picker would (a date input's own widget is not typed
    /// into the same way in every locale).
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.find(css).await?;
        let js = format!(
            "document.querySelector({}).value = {};",
            serde_json::to_string(css)?,
            serde_json::to_string(value)?
        );
        self.script(&js).await?;
        Ok(())
    }

    /// Resizes the window (a laptop, a tablet).
    pub async fn window(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await?;
        Ok(())
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let b64 = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await?;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session stops Chromium; then the driver goes.
        let _ = delete_session(&self.session);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// DELETE of the WebDriver session over a plain socket (no async runtime while dropping).
fn delete_session(url: &str) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok(())
}

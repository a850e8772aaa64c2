//! Loopback stand-ins for what alerts are sent to, each speaking its public contract:
//! a WeCom group robot (`POST /cgi-bin/webhook/send?key=...`, `{"errcode":0}`; 45009 past its
//! per-minute limit), a DingTalk custom robot (`POST /robot/send?access_token=...&timestamp=
//! ...&sign=...`, the signature checked by HMAC-SHA256 over "timestamp\nsecret" and the
//! timestamp within an hour; 310000 for a bad signature; 130101 past its limit, after which it
//! answers 130101 for 10 minutes), and an SMTP server that keeps what it is sent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotKind {
    WeCom,
    DingTalk,
}

#[derive(Debug, Default)]
struct RobotState {
    /// Texts accepted, in order.
    received: Vec<String>,
    /// Requests refused for any reason (rate, signature, down).
    refused: usize,
    /// Answer 502 without JSON (the robot's service down).
    down: bool,
    /// Accepted messages in the last minute (real time).
    window: VecDeque<Instant>,
    /// DingTalk's block after the limit.
    blocked_until: Option<Instant>,
}

/// A robot on a loopback port.
#[derive(Clone)]
pub struct Robot {
    pub addr: SocketAddr,
    pub kind: RobotKind,
    pub secret: String,
    limit: Arc<std::sync::atomic::AtomicUsize>,
    state: Arc<Mutex<RobotState>>,
}

impl Robot {
    /// A robot allowing `limit` messages a minute (the services allow 20).
    pub async fn start(kind: RobotKind, limit: usize) -> anyhow::Result<Robot> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let robot = Robot {
            addr: listener.local_addr()?,
            kind,
            secret: "SEC-test-robot-secret-0123456789".into(),
            limit: Arc::new(std::sync::atomic::AtomicUsize::new(limit)),
            state: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/cgi-bin/webhook/send", axum::routing::post(wecom))
            .route("/robot/send", axum::routing::post(dingtalk))
            .with_state(robot.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(robot)
    }

    /// The webhook URL as the service would give it.
    pub fn webhook(&self) -> String {
        match self.kind {
            RobotKind::WeCom => format!("http://{}/cgi-bin/webhook/send?key=test-key", self.addr),
            RobotKind::DingTalk => {
                format!("http://{}/robot/send?access_token=test-token", self.addr)
            }
        }
    }

    pub fn received(&self) -> Vec<String> {
        self.lock().received.clone()
    }

    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Messages a minute from now on.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, std::sync::atomic::Ordering::SeqCst);
    }

    /// Forgets the last minute's messages and any block (as if time had passed).
    pub fn forget_window(&self) {
        let mut s = self.lock();
        s.window.clear();
        s.blocked_until = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RobotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a message if the robot is up and under its limit: `None`, or the refusal.
    fn take(&self, body: &Value, too_fast: (i64, &str)) -> Result<(), Box<Response>> {
        let mut s = self.lock();
        if s.down {
            s.refused += 1;
            return Err(Box::new(
                (StatusCode::BAD_GATEWAY, "upstream down").into_response(),
            ));
        }
        let now = fieldloop_server::clock::monotonic();
        if s.blocked_until.is_some_and(|t| now < t) {
            s.refused += 1;
            return Err(Box::new(
                Json(json!({"errcode": too_fast.0, "errmsg": too_fast.1})).into_response(),
            ));
        }
        while s
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            s.window.pop_front();
        }
        if s.window.len() >= self.limit.load(std::sync::atomic::Ordering::SeqCst) {
            s.refused += 1;
            if self.kind == RobotKind::DingTalk {
                s.blocked_until = Some(now + Duration::from_secs(600));
            }
            return Err(Box::new(
                Json(json!({"errcode": too_fast.0, "errmsg": too_fast.1})).into_response(),
            ));
        }
        let Some(text) = body["text"]["content"].as_str() else {
            s.refused += 1;
            return Err(Box::new(
                Json(json!({"errcode": 40008, "errmsg": "invalid message type"})).into_response(),
            ));
        };
        s.window.push_back(now);
        s.received.push(text.to_string());
        Ok(())
    }
}

async fn wecom(
    State(robot): State<Robot>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    if q.get("key").map(String::as_str) != Some("test-key") {
        return Json(json!({"errcode": 93000, "errmsg": "invalid webhook url"})).into_response();
    }
    match robot.take(&body, (45009, "api freq out of limit")) {
        Ok(()) => Json(json!({"errcode": 0, "errmsg": "ok"})).into_response(),
        Err(r) => *r,
    }
}

/// DingTalk's check: HMAC-SHA256 keyed by the secret over "timestamp\nsecret", base64.
fn dingtalk_signature(secret: &str, timestamp: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn dingtalk(
    State(robot): State<Robot>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let timestamp = q.get("timestamp").cloned().unwrap_or_default();
    let fresh = timestamp.parse::<i64>().is_ok_and(|t| {
        use fieldloop_server::Clock as _;
        let now = fieldloop_server::SystemClock.now().timestamp_millis();
        (now - t).abs() < 3_600_000
    });
    let signed = q.get("sign").map(String::as_str)
        == Some(dingtalk_signature(&robot.secret, &timestamp).as_str());
    if q.get("access_token").map(String::as_str) != Some("test-token") || !fresh || !signed {
        robot.lock().refused += 1;
        return Json(json!({"errcode": 310000, "errmsg": "sign not match"})).into_response();
    }
    match robot.take(&body, (130101, "send too fast, exceed 20 times per minute")) {
        Ok(()) => Json(json!({"errcode": 0, "errmsg": "ok"})).into_response(),
        Err(r) => *r,
    }
}

/// One mail as the SMTP server took it: the recipients and the decoded text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP server on a loopback port that accepts every mail (no TLS, no auth).
#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let sink = SmtpSink {
            addr: listener.local_addr()?,
            mails: Arc::default(),
        };
        let mails = sink.mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mails = mails.clone();
                tokio::spawn(async move {
                    let _ = session(stream, mails).await;
                });
            }
        });
        Ok(sink)
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            write.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            to.push(
                line[8..]
                    .trim()
                    .trim_start_matches(':')
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string(),
            );
            write.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            mails.lock().unwrap_or_else(|e| e.into_inner()).push(Mail {
                to: to.clone(),
                data: decode_body(&data),
            });
            write.write_all(b"250 queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 ok\r\n").await?;
        }
    }
}

/// The headers as they came, and the body decoded from base64 or quoted-printable.
fn decode_body(data: &str) -> String {
    use base64::Engine as _;
    let (headers, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let lower = headers.to_ascii_lowercase();
    let text = if lower.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        let mut bytes = Vec::new();
        let raw = body.replace("=\r\n", "");
        let raw = raw.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'='
                && i + 2 < raw.len()
                && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&raw[i + 1..i + 3]), 16)
            {
                bytes.push(b);
                i += 3;
                continue;
            }
            bytes.push(raw[i]);
            i += 1;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_string()
    };
    format!("{headers}\r\n\r\n{text}")
}

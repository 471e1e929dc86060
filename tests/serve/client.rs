//! A tiny HTTP/1.1 client for the tests: one request per connection (`Connection: close`),
//! bounded in time and size. Enough for a service we wrote, and no extra dependency.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

/// Sends one request; `headers` are extra lines such as `("Authorization", "Bearer x")`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    } else if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.write_all(head.as_bytes()).await?;
        if let Some((_, bytes)) = body {
            tcp.write_all(bytes).await?;
        }
        let mut raw = Vec::new();
        (&mut tcp).take(16 << 20).read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within 30 s"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    parse(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {path}: not HTTP: {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], None).await
}

/// `POST /api/v1/checks` with `{"domain": domain}`.
pub async fn post_check(addr: SocketAddr, domain: &str, token: Option<&str>) -> Response {
    let body = serde_json::json!({ "domain": domain }).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    request(
        addr,
        "POST",
        "/api/v1/checks",
        &headers,
        Some(("application/json", body.as_bytes())),
    )
    .await
}

/// Polls `GET /api/v1/checks/{id}` until its state is one of `states`; the last answer.
pub async fn wait_state(
    addr: SocketAddr,
    id: &str,
    states: &[&str],
    within: Duration,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = get(addr, &format!("/api/v1/checks/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let json = r.json();
        if states.iter().any(|s| json["state"] == *s) {
            return json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "check {id} not in {states:?} within {within:?}: {json}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

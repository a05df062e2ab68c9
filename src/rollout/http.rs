//! One plain HTTP/1.1 request on a fresh connection, for the gates that talk to something other
//! than the API server (the smoke gate's ingress, `--prometheus URL`): hyper's client connection,
//! already in the tree through kube.

use http_body_util::{BodyExt, Full};

/// What came back: the status, the headers and the whole body.
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

/// `host:port` of an authority, port 80 when it names none.
pub fn with_port(authority: &str) -> String {
    if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") }
}

/// Sends `method path` to `connect`, with `host` as its Host (as `curl --resolve` would); a
/// body goes as JSON.
pub async fn send(
    connect: &str,
    host: &str,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Answer> {
    let stream = tokio::net::TcpStream::connect(connect).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, host)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, crate::client::USER_AGENT)
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    driver.abort();
    Ok(Answer { status: parts.status, headers: parts.headers, body })
}

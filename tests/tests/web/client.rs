//! A small HTTP/1.1 client over a tokio `TcpStream`, enough to drive the web example: JSON
//! bodies, keep-alive, answers with a `Content-Length`.

use std::net::SocketAddr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An answer: status, headers (names lowercased) and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON of type `T`.
    ///
    /// # Panics
    /// When it is not.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{error}: status {}, body {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The value of the header `name` (lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One client: one connection, kept alive, opened again when the server closed it.
#[derive(Debug)]
pub(crate) struct Client {
    addr: SocketAddr,
    connection: Option<BufReader<TcpStream>>,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            connection: None,
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, body: &impl Serialize) -> Answer {
        let body = serde_json::to_vec(body).unwrap();
        self.send("POST", path, Some(&body)).await
    }

    /// A POST of `body` as it is, JSON or not.
    pub(crate) async fn post_raw(&mut self, path: &str, body: &str) -> Answer {
        self.send("POST", path, Some(body.as_bytes())).await
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        if let Some(body) = body {
            request.push_str("content-type: application/json\r\n");
            request.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        // A kept-alive connection the server has closed fails at once: try once more on a
        // new one.
        for _ in 0..2 {
            let connection = match self.connection.as_mut() {
                Some(connection) => connection,
                None => {
                    let stream = TcpStream::connect(self.addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    self.connection.insert(BufReader::new(stream))
                }
            };
            match exchange(connection, &bytes).await {
                Ok(answer) => return answer,
                Err(_) => self.connection = None,
            }
        }
        panic!("{method} {path}: the server did not answer");
    }
}

/// Writes `request` and reads one answer.
async fn exchange(
    connection: &mut BufReader<TcpStream>,
    request: &[u8],
) -> std::io::Result<Answer> {
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    connection.get_mut().write_all(request).await?;
    let mut line = String::new();
    if connection.read_line(&mut line).await? == 0 {
        return Err(broken("closed"));
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| broken("no status line"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        connection.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').ok_or_else(|| broken("bad header"))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| broken("no content-length"))?;
    let mut body = vec![0; length];
    connection.read_exact(&mut body).await?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

//! An HTTPS front for a test server: a certificate authority made for the test signs a
//! certificate for `localhost` and 127.0.0.1; connections are decrypted and passed on to the
//! server's plain port, as a load balancer in front of Fieldloop would.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug)]
pub struct TlsFront {
    pub addr: SocketAddr,
    /// The test's certificate authority, PEM: what a device must trust to reach the front.
    pub ca_pem: String,
    task: tokio::task::JoinHandle<()>,
}

/// What the front does with a decrypted connection.
#[derive(Debug, Clone)]
enum Behind {
    /// Passes it on to the server's plain port.
    Proxy(SocketAddr),
    /// Answers every request with a permanent redirect to this URL (a misconfigured balancer).
    Redirect(String),
}

impl TlsFront {
    /// Listens on a loopback port and forwards decrypted connections to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<TlsFront> {
        Self::serve(Behind::Proxy(upstream)).await
    }

    /// Listens on a loopback port and redirects every request to `location` (308).
    pub async fn redirecting(location: &str) -> anyhow::Result<TlsFront> {
        Self::serve(Behind::Redirect(location.to_string())).await
    }

    async fn serve(behind: Behind) -> anyhow::Result<TlsFront> {
        fieldloop_client_core::sync::install_tls_provider();
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate()?;
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?
            .signed_by(&leaf_key, &issuer)?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .context("the test certificate")?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, behind) = (acceptor.clone(), behind.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to do.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    match behind {
                        Behind::Proxy(upstream) => {
                            if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                            }
                        }
                        Behind::Redirect(location) => {
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let mut buf = [0u8; 4096];
                            let _ = tls.read(&mut buf).await;
                            let answer = format!(
                                "HTTP/1.1 308 Permanent Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            );
                            let _ = tls.write_all(answer.as_bytes()).await;
                            let _ = tls.shutdown().await;
                        }
                    }
                });
            }
        });
        Ok(TlsFront {
            addr,
            ca_pem: ca_cert.pem(),
            task,
        })
    }

    /// `https://localhost:<port>`.
    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! A loopback TCP proxy that can drop the answers to sync requests: the server stores the batch
//! but the device never hears back, the hardest cut for "nothing lost, nothing doubled".

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug)]
pub struct CutProxy {
    pub addr: SocketAddr,
    cutting: Arc<AtomicBool>,
    pub cuts: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Listens on a loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<CutProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cutting = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (c, n) = (cutting.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (c, n) = (c.clone(), n.clone());
                tokio::spawn(async move {
                    let _ = pipe(client, upstream, c, n).await;
                });
            }
        });
        Ok(CutProxy {
            addr,
            cutting,
            cuts,
            task,
        })
    }

    /// While on, the answer to every `POST /api/sync` is swallowed and the connection closed.
    pub fn cut_sync_answers(&self, on: bool) {
        self.cutting.store(on, Ordering::SeqCst);
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    cutting: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let saw_sync = AtomicBool::new(false);
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if buf[..n].windows(14).any(|w| w == b"POST /api/sync")
                && cutting.load(Ordering::SeqCst)
            {
                saw_sync.store(true, Ordering::SeqCst);
            }
            sw.write_all(&buf[..n]).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if saw_sync.load(Ordering::SeqCst) {
                // The server answered a sync: drop the answer and the connection.
                cuts.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            cw.write_all(&buf[..n]).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

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
    /// Sync answers still let through before cutting starts (when cutting is on).
    pub allow: Arc<AtomicUsize>,
    /// Bytes sent from devices towards the server.
    pub bytes_up: Arc<AtomicUsize>,
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
        let allow = Arc::new(AtomicUsize::new(0));
        let bytes_up = Arc::new(AtomicUsize::new(0));
        let (c, n, a, b) = (
            cutting.clone(),
            cuts.clone(),
            allow.clone(),
            bytes_up.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (c, n, a, b) = (c.clone(), n.clone(), a.clone(), b.clone());
                tokio::spawn(async move {
                    let _ = pipe(client, upstream, c, n, a, b).await;
                });
            }
        });
        Ok(CutProxy {
            addr,
            cutting,
            allow,
            bytes_up,
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
    allow: Arc<AtomicUsize>,
    bytes_up: Arc<AtomicUsize>,
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
            bytes_up.fetch_add(n, Ordering::SeqCst);
            if buf[..n].windows(14).any(|w| w == b"POST /api/sync")
                && cutting.load(Ordering::SeqCst)
                && allow
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| a.checked_sub(1))
                    .is_err()
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

/// A loopback proxy that, at random (seeded), drops connections before forwarding, delays
/// chunks, truncates answers and sends requests twice. `calm()` turns it into a plain pipe.
#[derive(Debug)]
pub struct ChaosProxy {
    pub addr: SocketAddr,
    calm: Arc<AtomicBool>,
    pub faults: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr, seed: u64) -> anyhow::Result<ChaosProxy> {
        use rand::{Rng, SeedableRng};
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let calm = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(AtomicUsize::new(0));
        let (c, f) = (calm.clone(), faults.clone());
        let task = tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            while let Ok((client, _)) = listener.accept().await {
                let conn_seed: u64 = rng.random();
                let (c, f) = (c.clone(), f.clone());
                tokio::spawn(async move {
                    let _ = chaos_pipe(client, upstream, conn_seed, c, f).await;
                });
            }
        });
        Ok(ChaosProxy {
            addr,
            calm,
            faults,
            task,
        })
    }

    pub fn calm(&self) {
        self.calm.store(true, Ordering::SeqCst);
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn chaos_pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    seed: u64,
    calm: Arc<AtomicBool>,
    faults: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut rng_down = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if !calm.load(Ordering::SeqCst) {
                let roll: u32 = rng.random_range(0..100);
                if roll < 10 {
                    // Drop: the request never reaches the server.
                    faults.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                } else if roll < 25 {
                    tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(1..40)))
                        .await;
                } else if roll < 35 {
                    // Duplicate: the same bytes once more on another connection.
                    faults.fetch_add(1, Ordering::SeqCst);
                    let copy = buf[..n].to_vec();
                    tokio::spawn(async move {
                        if let Ok(mut extra) = TcpStream::connect(upstream).await {
                            let _ = extra.write_all(&copy).await;
                            let mut sink = vec![0u8; 4096];
                            let _ = tokio::time::timeout(
                                std::time::Duration::from_secs(5),
                                extra.read(&mut sink),
                            )
                            .await;
                        }
                    });
                }
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
            if !calm.load(Ordering::SeqCst) && rng_down.random_range(0..100u32) < 15 {
                // Truncate: half the answer, then the connection breaks.
                faults.fetch_add(1, Ordering::SeqCst);
                cw.write_all(&buf[..n / 2]).await?;
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

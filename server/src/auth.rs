//! Accounts: argon2 password hashes, short-lived JWT access tokens, rotating refresh tokens with
//! replay detection, and the extractor that turns a bearer token into a [`Principal`].

use std::collections::HashMap;

use argon2::{Argon2, PasswordHash};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::wire::{TokenPair, UserInfo};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::db::accounts::User;
use crate::error::{AppError, AppResult, ErrorCode};

/// Signing keys for access tokens, and the tokens already verified (a token is valid until it
/// expires whoever checks it, so one check per token and server is enough).
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    verified: std::sync::Arc<std::sync::Mutex<HashMap<String, (TokenHolder, i64)>>>,
}

/// Whom a verified token was issued to: the user and the session (refresh family).
type TokenHolder = (Uuid, Option<String>);

/// At most this many verified tokens are remembered; past it, the expired ones are dropped.
const VERIFIED_TOKENS: usize = 50_000;

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            verified: Default::default(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    region: Option<String>,
    iat: i64,
    exp: i64,
    /// The session (refresh-token family) the token belongs to; a signed-out session's tokens
    /// are refused on their next request. Tokens issued before it existed carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
}

/// A password as it is hashed and checked: NFKC-normalised, so the same password typed on
/// different keyboards (full-width digits, composed accents) is the same password.
fn normalized_password(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

thread_local! {
    /// The argon2 work memory of this thread (~19 MiB), made once and used for every password
    /// the thread hashes or checks. Allocated per hash instead, the allocator keeps several
    /// freed copies per thread (measured: ~150 MiB per password thread under a flood).
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes this thread's argon2 work memory for the default parameters now: a password thread
/// holds it from the start, so a flood of sign-ins adds nothing to the server's memory.
fn reserve_argon2_memory() {
    let blocks = argon2::Params::default().block_count();
    ARGON2_MEMORY.with(|memory| memory.borrow_mut().resize(blocks, argon2::Block::default()));
}

/// Runs argon2 for `password` and `salt` into `out`, with this thread's work memory.
fn argon2_into(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// Hashes a password with argon2id (default parameters) and a fresh salt, as a PHC string.
/// Slow on purpose: call off the async threads.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::phc::{Output, ParamsString, Salt};
    let params = argon2::Params::default();
    let argon = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &argon,
        params.block_count(),
        normalized_password(password).as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` is the one `hash` (a PHC string) was made of; the comparison takes the
/// same time whatever differs.
fn verify_bytes(password: &[u8], hash: &PasswordHash) -> bool {
    use argon2::password_hash::phc::Output;
    let checked = (|| {
        let algorithm = argon2::Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        let version = match hash.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(hash).ok()?;
        let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        argon2_into(&argon, blocks, password, salt, &mut out).ok()?;
        Some(Output::new(&out).ok()? == *expected)
    })();
    checked.unwrap_or(false)
}

/// Checks a password against its hash; a password hashed before normalisation is checked as
/// it was typed too, so existing accounts keep working.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let normalized = normalized_password(password);
    verify_bytes(normalized.as_bytes(), &parsed)
        || (normalized != password && verify_bytes(password.as_bytes(), &parsed))
}

/// The fewest characters (Unicode code points, after NFKC) a password has (NIST SP 800-63B
/// rev. 4, a password used alone), and the most it may have.
pub const PASSWORD_MIN_CHARS: usize = 15;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Checks a new password for `username`: 15 to 256 characters, any characters (spaces and all
/// of Unicode included), not a common password and not the username. No composition rules and
/// no expiry, as NIST SP 800-63B asks.
pub fn check_new_password(password: &str, username: &str) -> Result<(), String> {
    let normalized = normalized_password(password);
    let chars = normalized.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(format!(
            "a password needs at least {PASSWORD_MIN_CHARS} characters (a few words make a good one)"
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(format!(
            "a password has at most {PASSWORD_MAX_CHARS} characters"
        ));
    }
    let folded = normalized.to_lowercase();
    let user = normalize_username(username).unwrap_or_default();
    if !user.is_empty()
        && folded.contains(&user)
        && folded.chars().count() < user.chars().count() + 8
    {
        return Err("a password should not be made of the username".into());
    }
    if folded.chars().all(|c| folded.starts_with(c)) || is_common(&folded) {
        return Err("this password is too common; choose another".into());
    }
    Ok(())
}

/// A password refusal of [`check_new_password`] as a Chinese page says it.
pub fn password_refusal_zh(english: &str) -> String {
    if english.starts_with("a password needs at least") {
        format!("密码至少 {PASSWORD_MIN_CHARS} 个字符(几个词组成的短句最好记)")
    } else if english.starts_with("a password has at most") {
        format!("密码最多 {PASSWORD_MAX_CHARS} 个字符")
    } else if english.contains("username") {
        "密码不能由用户名组成".into()
    } else {
        "这个密码太常见,请换一个".into()
    }
}

/// Passwords too common to allow (`common_passwords.txt`, compared case-folded).
fn is_common(folded: &str) -> bool {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.trim() == folded)
}

/// A username as it is stored and looked up: NFKC, lower case, without surrounding space.
/// Refused when empty, longer than 64 characters, or holding white space, control or
/// invisible formatting characters (a zero-width space makes a look-alike of another name).
pub fn normalize_username(username: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let name: String = username.trim().nfkc().collect::<String>().to_lowercase();
    let invisible = |c: char| {
        c.is_control()
            || c.is_whitespace()
            || matches!(c as u32,
                0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
                | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
                | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB)
    };
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(invisible) {
        return Err(
            "a username is 1 to 64 characters without spaces or invisible characters".into(),
        );
    }
    Ok(name)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn user_info(user: &User) -> UserInfo {
    UserInfo {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        region: user.region.clone(),
    }
}

/// Runs `work` (a password hash or check) on the blocking pool once a hasher is free. A caller
/// that waits longer than `Config::password_wait_ms` is told the server is busy: a flood of
/// sign-ins queues in memory-light tasks instead of holding argon2's ~19 MiB each at once.
pub async fn with_hasher<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    let wait = std::time::Duration::from_millis(state.config.password_wait_ms);
    let permit = tokio::time::timeout(wait, state.hashers.clone().acquire_owned())
        .await
        .map_err(|_| {
            tracing::warn!(target: "security", "sign-in refused: every password hasher busy");
            AppError::new(
                ErrorCode::Busy,
                "too many sign-ins at once; try again in a moment",
            )
        })?
        .map_err(AppError::internal)?;
    let (done, result) = tokio::sync::oneshot::channel();
    state.hash_pool.run(move || {
        let _permit = permit;
        let _ = done.send(work());
    })?;
    result.await.map_err(AppError::internal)
}

/// A job for the password threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// A few threads of their own that hash and check passwords, each with its argon2 work memory
/// (~19 MiB) made when it starts and reused for every password. Not the runtime's blocking
/// pool: that one grows a thread per waiting task, each keeping the memory of its hashes; so a
/// flood of sign-ins would hold hundreds of MiB, where here it holds nothing more.
#[derive(Clone)]
pub struct HashPool {
    jobs: std::sync::mpsc::Sender<HashJob>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashPool(..)")
    }
}

impl HashPool {
    /// Starts `threads` password threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<HashPool> {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    reserve_argon2_memory();
                    loop {
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })?;
        }
        Ok(HashPool { jobs })
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) -> AppResult<()> {
        self.jobs
            .send(Box::new(job))
            .map_err(|_| AppError::internal("the password threads have stopped"))
    }
}

/// The active user with this username and password, or `bad_credentials` /
/// `account_disabled`; `too_many_attempts` while the account or the client `address` is
/// throttled after failed attempts ([`crate::throttle`]), checked before any hashing.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<std::net::IpAddr>,
) -> AppResult<User> {
    if let Some(wait) = state.sign_ins.wait(username, address) {
        return Err(too_many(wait));
    }
    let user = match normalize_username(username) {
        Ok(name) => match state.db.user_by_username(&name).await? {
            // Accounts made before usernames were normalised are found as they were written.
            None => state.db.user_by_username(username.trim()).await?,
            found => found,
        },
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_string();
    // An unknown user still pays for one verification, so timing does not tell which
    // usernames exist.
    let ok = with_hasher(state, move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            let _ = hash_password(&password);
            false
        }
    })
    .await?;
    match user {
        Some(u) if ok && u.active => Ok(u),
        Some(u) if ok && !u.active => Err(AppError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        )),
        _ => {
            let throttled = state.sign_ins.failed(username, address);
            tracing::warn!(
                target: "security",
                username = username.trim(),
                address = ?address,
                throttled = ?throttled,
                "failed sign-in"
            );
            Err(match throttled {
                Some(wait) => too_many(wait),
                None => AppError::new(ErrorCode::BadCredentials, "wrong username or password"),
            })
        }
    }
}

fn too_many(wait: std::time::Duration) -> AppError {
    let secs = wait.as_secs().max(1);
    AppError::new(
        ErrorCode::TooManyAttempts,
        format!("too many failed sign-ins; try again in {secs} s"),
    )
    .with_zh(Some(format!("登录失败次数过多,请 {secs} 秒后再试")))
}

/// Issues an access token and a refresh token in `family` (a new family at login).
pub async fn issue_pair(state: &AppState, user: &User, family: &str) -> AppResult<TokenPair> {
    let now = state.now().timestamp();
    let ttl = state.config.access_ttl_secs;
    let claims = Claims {
        sub: user.id.to_string(),
        role: user.role,
        region: user.region.clone(),
        iat: now,
        exp: now + ttl,
        fam: Some(family.to_string()),
    };
    let access = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.keys.encoding,
    )
    .map_err(AppError::internal)?;
    let refresh_bytes: [u8; 32] = rand::random();
    let refresh = URL_SAFE_NO_PAD.encode(refresh_bytes);
    let at = state.now_ms();
    let expires_at = at + state.config.refresh_ttl_secs * 1000;
    state
        .db
        .insert_refresh(&token_hash(&refresh), user.id, family, expires_at, at)
        .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        expires_in: ttl,
        user: user_info(user),
    })
}

/// Trades a refresh token for a new pair. A token used twice revokes its whole family: whoever
/// holds a copy (a thief, or the rightful device) must sign in again.
pub async fn rotate(state: &AppState, refresh: &str) -> AppResult<TokenPair> {
    let at = state.now_ms();
    let Some((row, won)) = state.db.use_refresh(&token_hash(refresh), at).await? else {
        return Err(AppError::new(
            ErrorCode::InvalidRefreshToken,
            "this refresh token is not known",
        ));
    };
    if row.revoked {
        return Err(AppError::new(
            ErrorCode::RefreshTokenRevoked,
            "this session was revoked; sign in again",
        ));
    }
    if row.used || !won {
        state.db.revoke_family(&row.family, at).await?;
        return Err(AppError::new(
            ErrorCode::RefreshTokenReplayed,
            "this refresh token was already used; the session is revoked, sign in again",
        ));
    }
    if row.expires_at < at {
        return Err(AppError::new(
            ErrorCode::RefreshTokenExpired,
            "the session has expired; sign in again",
        ));
    }
    let user = state
        .db
        .user_by_id(row.user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| AppError::new(ErrorCode::AccountDisabled, "this account is disabled"))?;
    issue_pair(state, &user, &row.family).await
}

pub async fn logout(state: &AppState, refresh: &str) -> AppResult<()> {
    let at = state.now_ms();
    if let Some((row, _)) = state.db.use_refresh(&token_hash(refresh), at).await? {
        state.db.revoke_family(&row.family, at).await?;
    }
    Ok(())
}

/// The signed-in user behind an access token, as the database has them now: the token proves
/// who it was issued to and until when (by the server's clock); the role, the region, whether
/// the account is active and whether the token's session was signed out are read on every
/// request, so a change takes effect on the next one, on every server instance.
pub async fn principal_from_token(state: &AppState, token: &str) -> AppResult<Principal> {
    let holder = verified_token(state, token)?;
    principal_of(state, &holder, None).await.map(|(p, _)| p)
}

/// A token checked by signature and expiry only (no database read yet): whose it is.
#[derive(Debug, Clone)]
pub struct Verified(TokenHolder);

/// Checks an access token's signature and expiry, without reading the database.
pub fn verify(state: &AppState, token: &str) -> AppResult<Verified> {
    verified_token(state, token).map(Verified)
}

/// The signed-in user behind a verified token, and the device `device` if it is registered
/// (to anyone: the caller checks it is theirs), read in one statement on every request.
pub async fn principal_and_device(
    state: &AppState,
    verified: &Verified,
    device: Uuid,
) -> AppResult<(Principal, Option<crate::db::accounts::Device>)> {
    principal_of(state, &verified.0, Some(device)).await
}

async fn principal_of(
    state: &AppState,
    (user_id, family): &TokenHolder,
    device: Option<Uuid>,
) -> AppResult<(Principal, Option<crate::db::accounts::Device>)> {
    let access = state
        .db
        .access(*user_id, family.as_deref(), device)
        .await?
        .filter(|a| a.active)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::AccountDisabled,
                "this account is disabled or no longer exists",
            )
        })?;
    if access.family_revoked {
        return Err(AppError::new(
            ErrorCode::SessionRevoked,
            "this session was signed out; sign in again",
        ));
    }
    let principal = Principal {
        user_id: *user_id,
        role: access.role,
        region: access.region,
    };
    Ok((principal, access.device))
}

/// The user id and session of a token this server signed and that has not expired. A token is
/// valid until it expires whoever checks it, so each is checked once per server.
fn verified_token(state: &AppState, token: &str) -> AppResult<TokenHolder> {
    let now = state.now().timestamp();
    {
        let verified = state
            .keys
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((found, exp)) = verified.get(token)
            && now < *exp
        {
            return Ok(found.clone());
        }
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    // The library would read the system clock; expiry is checked below against the server's.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Claims>(token, &state.keys.decoding, &validation)
        .map_err(|_| AppError::new(ErrorCode::InvalidToken, "the access token is not valid"))?;
    if now >= data.claims.exp {
        return Err(AppError::new(
            ErrorCode::TokenExpired,
            "the access token has expired; refresh it",
        ));
    }
    let user_id = Uuid::parse_str(&data.claims.sub)
        .map_err(|_| AppError::new(ErrorCode::InvalidToken, "the access token is not valid"))?;
    let found = (user_id, data.claims.fam);
    let mut verified = state
        .keys
        .verified
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if verified.len() >= VERIFIED_TOKENS {
        verified.retain(|_, (_, exp)| now < *exp);
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
    }
    verified.insert(token.to_string(), (found.clone(), data.claims.exp));
    Ok(found)
}

/// The signed-in user of a request (from `Authorization: Bearer ...`).
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let principal = principal_from_token(state, token).await?;
        crate::http::log_user(principal.user_id);
        Ok(Auth(principal))
    }
}

fn bearer(parts: &Parts) -> AppResult<&str> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AppError::new(ErrorCode::MissingToken, "sign in: no bearer token was sent")
        })?;
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| AppError::new(ErrorCode::InvalidToken, "expected 'Bearer <token>'"))
}

/// A request's access token checked by signature and expiry, before its body is read; the
/// database is asked once the body says which device is calling
/// ([`principal_and_device`]).
#[derive(Debug, Clone)]
pub struct VerifiedAuth(pub Verified);

impl FromRequestParts<AppState> for VerifiedAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let verified = verify(state, bearer(parts)?)?;
        crate::http::log_user(verified.0.0);
        Ok(VerifiedAuth(verified))
    }
}

/// A server user's Automerge actor: a marker byte then the user id, 17 bytes, so it can never
/// equal a device's 16-byte actor.
pub fn server_actor(user_id: Uuid) -> automerge::ActorId {
    let mut bytes = vec![0x5e];
    bytes.extend_from_slice(user_id.as_bytes());
    automerge::ActorId::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The PHC strings made with this thread's reused memory are argon2id as the library makes
    /// them: each side verifies the other's, and a reused buffer gives the same answers twice.
    #[test]
    fn reused_memory_hashes_are_standard_argon2id() {
        let ours = hash_password("lantern by the old bridge").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"lantern by the old bridge", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"lantern by the old bridge")
            .unwrap()
            .to_string();
        for _ in 0..2 {
            assert!(verify_password("lantern by the old bridge", &theirs));
            assert!(verify_password("lantern by the old bridge", &ours));
            assert!(!verify_password("lantern by the old bridgE", &ours));
        }
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn new_passwords_follow_nist() {
        for bad in [
            "12345678",
            "aaaaaaaa",
            "        ",
            "               ",
            "aaaaaaaaaaaaaaaaaaaa",
            "123456789012345",
            "Correct Horse Battery Staple",
            "password-password",
        ] {
            assert!(check_new_password(bad, "li").is_err(), "{bad:?}");
        }
        assert!(
            check_new_password("wang.xiaoming.1", "wang.xiaoming").is_err(),
            "the username"
        );
        for good in [
            "river stone lantern 42",
            "绿色的山和蓝色的水都很好看啊真的",
            "ｆｕｌｌ　ｗｉｄｔｈ　ｔｅｘｔ",
            "fifteen chars!!",
        ] {
            assert_eq!(check_new_password(good, "li"), Ok(()), "{good:?}");
        }
        assert!(check_new_password(&"x".repeat(64).replace('x', "ab"), "li").is_ok());
        assert!(check_new_password(&"ab".repeat(200), "li").is_err());
    }

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(normalize_username(" Admin ").as_deref(), Ok("admin"));
        assert_eq!(
            normalize_username("ＴＥＣＨ_ｗｈ").as_deref(),
            Ok("tech_wh")
        );
        for bad in [
            "",
            "tech wh",
            "tech_wh\u{200B}",
            "a\u{202E}b",
            "x\ty",
            &"a".repeat(65),
        ] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_compared_normalised_and_as_typed_before() {
        let hash = hash_password("ｆｕｌｌ　ｗｉｄｔｈ　ｔｅｘｔ").unwrap();
        assert!(verify_password("full width text", &hash));
        // A hash made of the password as typed, before normalisation, still verifies.
        let legacy = Argon2::default()
            .hash_password("ｆｕｌｌ".as_bytes())
            .unwrap()
            .to_string();
        assert!(verify_password("ｆｕｌｌ", &legacy));
        assert!(!verify_password("wrong", &legacy));
    }
}

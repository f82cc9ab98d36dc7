//! Who is calling: roles, bearer-token claims, password hashing and the `AuthUser` extractor.

pub mod throttle;
pub mod token;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use crate::AppState;
use crate::error::ApiError;
use crate::workflows::Actor;

pub use crate::domain::Role;

/// The authenticated caller of a request, taken from a verified bearer token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// The session epoch the token was issued in.
    pub epoch: i64,
}

impl AuthUser {
    /// 403 (`wrong-role`) unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        Actor::from(self).require(roles)?;
        Ok(())
    }
}

impl From<&AuthUser> for Actor {
    fn from(user: &AuthUser) -> Self {
        Actor::user(user.id.clone(), user.username.clone(), user.role)
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(current(req.clone(), authenticate(req)))
    }
}

/// A set of roles allowed on a route, checked before the body is read.
pub trait RoleSet {
    const ROLES: &'static [Role];
}

/// Admins only: publishing checklists, managing users.
pub struct Admins;
impl RoleSet for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Dispatchers and admins: issuing jobs.
pub struct JobIssuers;
impl RoleSet for JobIssuers {
    const ROLES: &'static [Role] = &[Role::Dispatcher, Role::Admin];
}

/// Technicians only: their own jobs and sign-offs.
pub struct Technicians;
impl RoleSet for Technicians {
    const ROLES: &'static [Role] = &[Role::Technician];
}

/// Dispatchers, safety officers and admins: the incident queue.
pub struct IncidentHandlers;
impl RoleSet for IncidentHandlers {
    const ROLES: &'static [Role] = &[Role::Dispatcher, Role::SafetyOfficer, Role::Admin];
}

/// Safety officers only: re-grading.
pub struct SafetyOfficers;
impl RoleSet for SafetyOfficers {
    const ROLES: &'static [Role] = &[Role::SafetyOfficer];
}

/// Dispatchers and safety officers: grading an incident (a dispatcher only a report in triage).
pub struct Graders;
impl RoleSet for Graders {
    const ROLES: &'static [Role] = &[Role::Dispatcher, Role::SafetyOfficer];
}

/// Safety officers and admins: the safety audit queue.
pub struct SafetyReaders;
impl RoleSet for SafetyReaders {
    const ROLES: &'static [Role] = &[Role::SafetyOfficer, Role::Admin];
}

/// Technicians and dispatchers: filing failure reports.
pub struct FailureReporters;
impl RoleSet for FailureReporters {
    const ROLES: &'static [Role] = &[Role::Technician, Role::Dispatcher];
}

/// The caller, known to have one of the roles of `R` (403 otherwise).
pub struct Require<R: RoleSet>(pub AuthUser, std::marker::PhantomData<R>);

impl<R: RoleSet> std::ops::Deref for Require<R> {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<R: RoleSet> FromRequest for Require<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req).and_then(|user| {
            user.require(R::ROLES)?;
            Ok(user)
        });
        let current = current(req.clone(), user);
        Box::pin(async move { Ok(Self(current.await?, std::marker::PhantomData)) })
    }
}

/// Every request is made by a user still active, in the role and the session epoch their token
/// names: a deactivation, a role change, a password reset or signing out everywhere bumps the epoch
/// and ends every older token. Changes check the account row itself; reads check a copy at most
/// `SESSION_REFRESH` old, so serving a pinned checklist stays free of database work.
async fn current(req: HttpRequest, user: Result<AuthUser, ApiError>) -> Result<AuthUser, ApiError> {
    let user = user?;
    let state = app_state(&req)?;
    if req.method().is_safe()
        && let Some(session) = state.sessions.recent(&user.id)
    {
        return session.admits(user);
    }
    let id = user.id.clone();
    let row = state.db.query(move |conn| crate::db::users::session(conn, &id)).await?;
    let Some((epoch, active, role)) = row else {
        return Err(ApiError::Unauthorized("this account is not active".to_owned()));
    };
    let session = Session { epoch, active, role: Role::parse(&role) };
    state.sessions.remember(&user.id, session);
    session.admits(user)
}

/// How long a read trusts a remembered session before looking at the account again.
pub const SESSION_REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

/// What a token is checked against: the account's epoch, whether it is active, and its role.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    epoch: i64,
    active: bool,
    /// `None` for a role this build does not know, which admits no token.
    role: Option<Role>,
}

impl Session {
    fn admits(&self, user: AuthUser) -> Result<AuthUser, ApiError> {
        if !self.active {
            Err(ApiError::Unauthorized("this account is not active".to_owned()))
        } else if self.epoch != user.epoch {
            Err(ApiError::Unauthorized("this session has ended; sign in again".to_owned()))
        } else if self.role != Some(user.role) {
            Err(ApiError::Unauthorized("your role has changed; sign in again".to_owned()))
        } else {
            Ok(user)
        }
    }
}

/// Sessions looked up recently, per user id (one per instance; the database is the truth). The ids
/// are those of verified tokens, so no caller chooses them, and a fast hash will do.
#[derive(Default)]
pub struct Sessions(std::sync::Mutex<rustc_hash::FxHashMap<String, (Session, std::time::Instant)>>);

impl Sessions {
    fn recent(&self, user_id: &str) -> Option<Session> {
        let sessions = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.get(user_id).filter(|(_, at)| at.elapsed() < SESSION_REFRESH).map(|(s, _)| *s)
    }

    fn remember(&self, user_id: &str, session: Session) {
        let mut sessions = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sessions.len() > 10_000 {
            sessions.retain(|_, (_, at)| at.elapsed() < SESSION_REFRESH);
        }
        sessions.insert(user_id.to_owned(), (session, std::time::Instant::now()));
    }

    /// Forgets a user's session here at once (this instance changed it).
    pub fn forget(&self, user_id: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(user_id);
    }
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))
}

/// The caller behind a token carried elsewhere than the `Authorization` header (the console's
/// session cookie), checked exactly as a bearer token is: signature, expiry and session epoch.
pub async fn from_token(req: &HttpRequest, token: &str) -> Result<AuthUser, ApiError> {
    let user = app_state(req).and_then(|state| verify(state, token));
    current(req.clone(), user).await
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = app_state(req)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".to_owned()))?;
    let token = header_text(header)
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned()))?;
    verify(state, token)
}

/// A header's text, as `HeaderValue::to_str` takes it (visible ASCII and tabs, else none), checked
/// without stopping at each byte: a bearer token is several hundred bytes, sent with every request,
/// and `to_str`'s loop of a test and a branch per byte cost more than finding the token's claims.
fn header_text(value: &actix_web::http::header::HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let visible = bytes.iter().fold(true, |visible, &b| visible & (b == b'\t' || (b' '..=b'~').contains(&b)));
    if visible { std::str::from_utf8(bytes).ok() } else { None }
}

fn verify(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state.tokens.verify(token)?;
    let role =
        Role::parse(&claims.role).ok_or_else(|| ApiError::Unauthorized("token has an unknown role".to_owned()))?;
    Ok(AuthUser { id: claims.sub.clone(), username: claims.name.clone(), role, epoch: claims.epoch })
}

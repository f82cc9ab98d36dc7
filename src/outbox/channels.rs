//! How a message reaches a customer: SMTP email, a signed webhook to the company's own SMS gateway
//! or CRM, or the service log (the demo's channel). The route is chosen at delivery time from the
//! customer's contact details and preferences and the channels configured.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::json;
use sha2::Sha256;

use crate::config::{OutboxSettings, WebhookTarget};
use crate::credentials::links;
use crate::db::customers::CustomerRow;
use crate::db::outbox::MessageRow;
use crate::domain::states::MessageKind;

/// Where a message went.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub channel: &'static str,
    pub recipient: String,
}

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    /// The receiver refused for good (an unknown mailbox, a 4xx from the webhook): retrying cannot
    /// help, so the message is given up at once for a person to look at.
    pub permanent: bool,
}

impl Failure {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: false }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: true }
    }
}

pub struct Channels {
    email: Option<Email>,
    webhook: Option<Webhook>,
    log: bool,
}

struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

struct Webhook {
    client: reqwest::Client,
    target: WebhookTarget,
}

impl Channels {
    pub fn new(settings: &OutboxSettings) -> anyhow::Result<Self> {
        let email = match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("the SMTP URL is not valid: {e}"))?
                    .timeout(Some(settings.timeout))
                    .build();
                let from = settings
                    .email_from
                    .parse()
                    .map_err(|e| anyhow::anyhow!("the email sender `{}` is not valid: {e}", settings.email_from))?;
                Some(Email { transport, from })
            }
            None => None,
        };
        let webhook = match &settings.webhook {
            Some(target) => {
                let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
                Some(Webhook { client, target: target.clone() })
            }
            None => None,
        };
        Ok(Self { email, webhook, log: settings.log })
    }

    /// Reaches each configured channel without sending anything (for `check-config`): connects to
    /// the SMTP server and says hello; the webhook is only parsed, since a request would deliver.
    pub async fn probe(&self) -> anyhow::Result<Vec<String>> {
        let mut found = Vec::new();
        if let Some(email) = &self.email {
            let reachable = email.transport.test_connection().await.map_err(|e| anyhow::anyhow!("SMTP server: {e}"))?;
            anyhow::ensure!(reachable, "the SMTP server did not answer NOOP");
            found.push(format!("email: SMTP server reachable; sender {}", email.from));
        }
        if let Some(webhook) = &self.webhook {
            found.push(format!("webhook: {} (parsed; not called)", webhook.target.url));
        }
        if self.log {
            found.push("log: messages no other channel reaches go to the service log".to_owned());
        }
        Ok(found)
    }

    /// The configured channels, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut names = Vec::new();
        if self.email.is_some() {
            names.push("email");
        }
        if self.webhook.is_some() {
            names.push("webhook");
        }
        if self.log {
            names.push("log");
        }
        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
    }

    /// Which channel a message to this customer takes: by webhook when the customer prefers texts or
    /// has no email address (the company's gateway texts them), else by email, else to the log.
    fn route<'a>(&'a self, customer: &'a CustomerRow) -> Route<'a> {
        let email_address = customer.email.as_deref().filter(|e| !e.trim().is_empty());
        let prefers_texts = prefers_texts(customer);
        match (&self.email, &self.webhook, email_address) {
            (_, Some(webhook), _) if prefers_texts || email_address.is_none() || self.email.is_none() => {
                Route::Webhook(webhook)
            }
            (Some(email), _, Some(address)) => Route::Email(email, address),
            _ if self.log => Route::Log,
            _ => Route::Unreachable,
        }
    }

    /// The name of the channel a message to this customer takes (`none` when none reaches them).
    pub fn channel_for(&self, customer: &CustomerRow) -> &'static str {
        self.route(customer).name()
    }

    /// Delivers one message by the channel [`Channels::channel_for`] names. `link` is the customer's
    /// feedback link, for a message that waits for one: the email and the webhook carry it, the log
    /// never does.
    pub async fn deliver(
        &self,
        message: &MessageRow,
        customer: &CustomerRow,
        link: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Delivered, Failure> {
        let route = self.route(customer);
        let body = match (route.name(), link) {
            ("email" | "webhook", Some(link)) => links::with_link(&message.body, link),
            ("email" | "webhook", None)
                if message.kind == MessageKind::FeedbackRequest && links::needs_link(&message.body) =>
            {
                return Err(Failure::permanent("the feedback request this message links to is missing"));
            }
            _ => message.body.clone(),
        };
        match route {
            Route::Webhook(webhook) => webhook.send(message, &body, customer, now).await,
            Route::Email(email, address) => email.send(message, &body, address).await,
            Route::Log => {
                let case = message.recovery_case_id.as_deref().unwrap_or_default();
                let body = links::with_link(
                    &message.body,
                    &format!("[the customer's feedback link, not logged: `fieldproof feedback link {case}` prints it]"),
                );
                // The log escapes line breaks in every field (`telemetry::EscapedFields`, or JSON).
                tracing::info!(
                    target: "fieldproof::customer_messages",
                    customer = %customer.name, dedup_key = %message.dedup_key, subject = %message.subject, "{body}"
                );
                Ok(Delivered { channel: "log", recipient: customer.name.clone() })
            }
            // Transient: the operator may yet configure a channel that reaches them.
            Route::Unreachable => Err(Failure::transient(format!(
                "no configured channel reaches this customer (channels: {})",
                self.describe()
            ))),
        }
    }
}

/// The channel chosen for one customer.
enum Route<'a> {
    Webhook(&'a Webhook),
    Email(&'a Email, &'a str),
    Log,
    Unreachable,
}

impl Route<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Webhook(_) => "webhook",
            Self::Email(..) => "email",
            Self::Log => "log",
            Self::Unreachable => "none",
        }
    }
}

/// Whether the customer's known preferences ask for text messages.
fn prefers_texts(customer: &CustomerRow) -> bool {
    customer.preferences.iter().any(|p| {
        let p = p.to_lowercase();
        p.contains("text") || p.contains("sms")
    })
}

impl Email {
    async fn send(&self, message: &MessageRow, body: &str, address: &str) -> Result<Delivered, Failure> {
        let to: Mailbox = address
            .parse()
            .map_err(|e| Failure::permanent(format!("the customer's email `{address}` is not valid: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            // The dedup key as Message-ID: a redelivered message is the same message to mail systems.
            .message_id(Some(format!("<{}@{domain}>", message.dedup_key)))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| Failure::permanent(format!("cannot build the email: {e}")))?;
        self.transport.send(email).await.map_err(|e| {
            let reason = format!("SMTP: {e}");
            if e.is_permanent() { Failure::permanent(reason) } else { Failure::transient(reason) }
        })?;
        Ok(Delivered { channel: "email", recipient: address.to_owned() })
    }
}

impl Webhook {
    /// POSTs the message as JSON, signed per Standard Webhooks: `webhook-signature` is
    /// `v1,base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}"))`.
    async fn send(
        &self,
        message: &MessageRow,
        text: &str,
        customer: &CustomerRow,
        now: DateTime<Utc>,
    ) -> Result<Delivered, Failure> {
        let body = json!({
            "type": "customer.message",
            "message_id": message.id,
            "dedup_key": message.dedup_key,
            "kind": message.kind,
            "customer": {
                "id": customer.id,
                "name": customer.name,
                "email": customer.email,
                "phone": customer.phone,
                "prefers_texts": prefers_texts(customer),
            },
            "subject": message.subject,
            "body": text,
            "created_at": message.created_at.and_utc(),
        })
        .to_string();
        let timestamp = now.timestamp().to_string();
        let signature = sign(&self.target.secret, &message.dedup_key, &timestamp, &body);
        let response = self
            .client
            .post(&self.target.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.dedup_key)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", format!("v1,{signature}"))
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::transient(format!("webhook: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let reason = format!("webhook answered {status}");
            // A 4xx says the request itself is wrong (except timeouts and rate limits): it will not improve.
            let permanent = status.is_client_error() && ![408, 429].contains(&status.as_u16());
            return Err(if permanent { Failure::permanent(reason) } else { Failure::transient(reason) });
        }
        let recipient =
            customer.phone.clone().or_else(|| customer.email.clone()).unwrap_or_else(|| customer.id.clone());
        Ok(Delivered { channel: "webhook", recipient })
    }
}

/// The Standard Webhooks signature (base64) of one delivery.
pub fn sign(secret: &[u8], id: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

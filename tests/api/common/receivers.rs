//! Real receivers of customer messages on local ports: an SMTP server (`mailin-embedded`) and an
//! HTTP server taking signed webhooks. The outbox tests and the binary tests deliver to them.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, mpsc};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

// ---- a real SMTP server on a local port ----------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
pub struct Mailbox {
    pub mails: Vec<Mail>,
    /// Refuse the next this-many recipients, with `reject_code` (450: try later; 550: no such mailbox).
    pub reject: usize,
    pub reject_code: u16,
    pub rejected: usize,
}

#[derive(Clone)]
pub struct SmtpHandler {
    pub mailbox: Arc<Mutex<Mailbox>>,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl mailin_embedded::Handler for SmtpHandler {
    fn rcpt(&mut self, _to: &str) -> mailin_embedded::Response {
        let mut mailbox = self.mailbox.lock().unwrap();
        if mailbox.reject > 0 {
            mailbox.reject -= 1;
            mailbox.rejected += 1;
            let why = if mailbox.reject_code >= 500 { "no such mailbox" } else { "mailbox busy, try again later" };
            return mailin_embedded::Response::custom(mailbox.reject_code, why.to_owned());
        }
        mailin_embedded::response::OK
    }

    fn data_start(&mut self, _: &str, _: &str, _: bool, to: &[String]) -> mailin_embedded::Response {
        (self.to, self.data) = (to.to_vec(), Vec::new());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.mailbox.lock().unwrap().mails.push(Mail { to: self.to.clone(), data });
        mailin_embedded::response::OK
    }
}

pub struct SmtpReceiver {
    pub url: String,
    pub mailbox: Arc<Mutex<Mailbox>>,
}

impl SmtpReceiver {
    pub fn start(reject_first: usize) -> Self {
        Self::refusing(reject_first, 450)
    }

    pub fn refusing(reject_first: usize, reject_code: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let mailbox = Arc::new(Mutex::new(Mailbox { reject: reject_first, reject_code, ..Mailbox::default() }));
        let handler = SmtpHandler { mailbox: mailbox.clone(), to: Vec::new(), data: Vec::new() };
        let mut server = mailin_embedded::Server::new(handler);
        server.with_name("receiver.test").with_num_threads(32).with_tcp_listener(listener);
        std::thread::spawn(move || server.serve().map_err(|e| e.to_string()));
        Self { url, mailbox }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mailbox.lock().unwrap().mails.clone()
    }

    pub fn rejected(&self) -> usize {
        self.mailbox.lock().unwrap().rejected
    }
}

/// An SMTP "server" that accepts connections and never answers: a worker talking to it hangs.
pub fn black_hole() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let (accepted, on_accept) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    (url, on_accept)
}

// ---- a real HTTP server receiving webhooks ----------------------------------------------------

#[derive(Debug, Clone)]
pub struct Hook {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub accepted: bool,
}

#[derive(Default)]
pub struct Hooks {
    pub received: Vec<Hook>,
    pub fail: usize,
    /// The status of a refusal (default 503).
    pub fail_status: u16,
}

async fn receive_hook(req: HttpRequest, body: web::Bytes, hooks: web::Data<Mutex<Hooks>>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut hooks = hooks.lock().unwrap();
    let accepted = hooks.fail == 0;
    hooks.fail = hooks.fail.saturating_sub(1);
    hooks.received.push(Hook {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        accepted,
    });
    let refusal = StatusCode::from_u16(hooks.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if accepted { HttpResponse::NoContent().finish() } else { HttpResponse::build(refusal).finish() }
}

pub struct WebhookReceiver {
    pub url: String,
    pub hooks: web::Data<Mutex<Hooks>>,
}

impl WebhookReceiver {
    pub fn start(fail_first: usize) -> Self {
        Self::refusing(fail_first, 503)
    }

    pub fn refusing(fail_first: usize, fail_status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let hooks = web::Data::new(Mutex::new(Hooks { fail: fail_first, fail_status, ..Hooks::default() }));
        let data = hooks.clone();
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).route("/hooks", web::post().to(receive_hook)))
                .workers(1)
                .listen(listener)
                .unwrap()
                .run();
        actix_web::rt::spawn(server);
        Self { url, hooks }
    }

    pub fn received(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().received.clone()
    }
}

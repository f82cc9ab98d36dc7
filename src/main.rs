//! The `fieldproof` command line: configuration → tracing → database (migrate, pool) →
//! checklist sync → serve; plus the operator commands (migrate, checklists, users, rules, audit).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use fieldproof::auth::Role;
use fieldproof::catalogue;
use fieldproof::clock::Clock;
use fieldproof::config::{self, Settings};
use fieldproof::db::{Backend, DatabaseUrl, Db};
use fieldproof::domain::evaluation::{Evaluation, LabelledNote};
use fieldproof::domain::net;
use fieldproof::domain::recovery::Policy;
use fieldproof::domain::rules::RuleSet;
use fieldproof::domain::severity::{self, FailureFacts, Severity};
use fieldproof::outbox::Outbox;
use fieldproof::workflows::{self, Actor};

// why: under load glibc's malloc gives each thread that allocates an arena of its own and keeps what
// was freed in it (SQLite's waiting writers took resident memory to 170-200 MiB), and a sign-off
// spent a tenth of its CPU in it. mimalloc hands memory back and allocates faster. It also asks the
// kernel for transparent huge pages: see `small_pages`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use fieldproof::{AppState, configure};

/// The reader of a command's output went away (`fieldproof rules train ... | head`): the command
/// stops writing and ends quietly, as Unix tools do, rather than panicking.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
struct OutputClosed;

fn output_error(err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        OutputClosed.into()
    } else {
        anyhow::Error::from(err).context("cannot write to standard output")
    }
}

/// `print!` for a command's output, returning [`OutputClosed`] from the function when the reader
/// has gone (Rust's `print!` panics then).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*).map_err(crate::output_error)?
    }};
}

/// `println!` the same way as [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {
        out!("{}\n", format_args!($($arg)*))
    };
}

/// `println!` for what the running service tells whoever started it: best effort, so the service
/// keeps serving when nobody reads its standard output.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod demo;

/// The version and the git commit it was built from (`unknown` outside a git checkout).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FIELDPROOF_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "fieldproof",
    version = VERSION,
    about = "Versioned field-service checklists, immutable sign-offs and failure recovery"
)]
struct Cli {
    /// A SQLite file path or sqlite:// URL, or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = config::DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Largest number of pooled database connections (SQLite adds its one writer connection).
    #[arg(long, env = "FIELDPROOF_DB_POOL", default_value_t = 10, global = true)]
    db_pool: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, import the checklist directory and serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Validate every `serve` setting, reach the database and the SMTP server, and print what was found.
    CheckConfig(Box<ServeArgs>),
    /// Apply pending database migrations.
    Migrate,
    /// Validate or import checklist templates.
    #[command(subcommand)]
    Checklists(ChecklistsCommand),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Test a severity rule set before it goes live (reads only; writes nothing).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Check the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Customers' feedback links.
    #[command(subcommand)]
    Feedback(FeedbackCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk each hash chain (audit entries, sign-offs, failure reports) and report the first broken
    /// link with the row's id (edited, deleted, reordered); exits non-zero if any chain is broken.
    Verify {
        /// A head saved earlier: what `GET /v1/audit/head` returned (JSON), one chain's head hash,
        /// or a file holding either. Fails unless each chain still holds it and extends it.
        #[arg(long)]
        head: Option<String>,
    },
}

#[derive(Subcommand)]
enum FeedbackCommand {
    /// Print the customer's feedback link of a recovery case (audited). Staff never see it through
    /// the API or the console; this is for the operator (the demo, or a customer who lost it).
    Link {
        /// The recovery case.
        case: uuid::Uuid,
        #[command(flatten)]
        settings: Box<ServeArgs>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Grade a labelled file of notes and print the confusion matrix and every miss with its reasons.
    Eval {
        /// The rule-set folder (`v<N>.toml` files).
        #[arg(long, default_value = "checklists/_severity-rules")]
        rules: PathBuf,
        /// Which version to use (`2` or `v2`; default: the latest).
        #[arg(long)]
        version: Option<String>,
        /// JSON lines (`{"note","expected"}`) or TSV (`expected<TAB>note`).
        #[arg(long)]
        notes: PathBuf,
        /// Print the confusion matrix and its figures only, no note: for a frozen test split, whose
        /// misses nobody may read (rules are written from `dev`).
        #[arg(long)]
        scores_only: bool,
    },
    /// Train the statistical safety net on labelled notes (the `dev` split only) and write it as
    /// `v<N>.net.json`, for a new rule-set version to name in its `[net]` table.
    Train {
        /// JSON lines (`{"note","expected"}`) or TSV (`expected<TAB>note`).
        #[arg(long)]
        notes: PathBuf,
        /// Where to write the net (e.g. `checklists/_severity-rules/v5.net.json`).
        #[arg(long)]
        out: PathBuf,
        /// Also print how the rule set in this folder (its rules, with the new net in place of its
        /// own) grades the same notes, each scored by a net trained without it.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Which version of `--rules` (default: the latest).
        #[arg(long, requires = "rules")]
        version: Option<String>,
    },
    /// Re-grade stored failure reports with another rule-set version and list what would change.
    Diff {
        /// The version that graded them (as recorded, e.g. `v1`).
        from: String,
        /// The draft version to compare (e.g. `v2`).
        to: String,
        /// How far back: `90d`, `12h`.
        #[arg(long, default_value = "90d")]
        since: String,
        #[arg(long, default_value = "checklists/_severity-rules")]
        rules: PathBuf,
    },
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "FIELDPROOF_BIND", default_value = config::DEFAULT_BIND)]
    bind: String,
    /// Directory of checklist templates (`<key>/v<N>.toml`).
    #[arg(long, env = "FIELDPROOF_CHECKLISTS", default_value = "checklists")]
    checklists: PathBuf,
    /// Also seed demo users, a customer and jobs, and print the credentials.
    #[arg(long)]
    demo: bool,
    /// Secret for signing tokens (at least 32 characters). Required with PostgreSQL.
    #[arg(long, env = "FIELDPROOF_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    #[arg(long, env = "FIELDPROOF_JWT_ISSUER", default_value = "fieldproof")]
    jwt_issuer: String,
    #[arg(long, env = "FIELDPROOF_JWT_AUDIENCE", default_value = "fieldproof-api")]
    jwt_audience: String,
    /// Token lifetime in seconds.
    #[arg(long, env = "FIELDPROOF_TOKEN_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(60..=86_400))]
    token_ttl: u32,
    /// Largest request body in bytes.
    #[arg(long, env = "FIELDPROOF_BODY_LIMIT", default_value_t = 262_144)]
    body_limit: usize,
    /// Hours within which a make-safe visit is due after a safety-critical grade.
    #[arg(long, env = "FIELDPROOF_MAKE_SAFE_HOURS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=72))]
    make_safe_hours: u32,
    /// Minutes within which a person must grade a report the rules could not (the triage lane).
    #[arg(long, env = "FIELDPROOF_TRIAGE_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1440))]
    triage_minutes: u32,
    /// Days within which retraining is due.
    #[arg(long, env = "FIELDPROOF_RETRAINING_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=365))]
    retraining_days: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "FIELDPROOF_WORKERS")]
    workers: Option<usize>,
    /// Where customers reach this service; feedback links start with it (default: http://<bind>).
    #[arg(long, env = "FIELDPROOF_PUBLIC_URL")]
    public_url: Option<String>,
    /// Days a customer's feedback link works.
    #[arg(long, env = "FIELDPROOF_FEEDBACK_LINK_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=90))]
    feedback_link_days: u32,
    /// SMTP server for customer email: smtp://host:port, smtp://host?tls=required, smtps://user:pass@host.
    #[arg(long, env = "FIELDPROOF_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of customer email.
    #[arg(long, env = "FIELDPROOF_EMAIL_FROM", default_value = "fieldproof <no-reply@fieldproof.invalid>")]
    email_from: String,
    /// The company's endpoint (SMS gateway, CRM) for customer messages, signed per Standard Webhooks.
    #[arg(long, env = "FIELDPROOF_WEBHOOK_URL", requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// The webhook's HMAC secret (`whsec_<base64>` or at least 24 characters).
    #[arg(long, env = "FIELDPROOF_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Deliver to the service log the messages no email or webhook reaches (on when neither is configured).
    #[arg(long, env = "FIELDPROOF_MESSAGE_LOG")]
    message_log: bool,
    /// Seconds in-flight requests and outbox deliveries may take to finish after SIGTERM.
    #[arg(long, env = "FIELDPROOF_SHUTDOWN_GRACE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=600))]
    shutdown_grace: u32,
    /// Outbox workers in this instance (0: this instance only serves HTTP).
    #[arg(long, env = "FIELDPROOF_OUTBOX_WORKERS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=8))]
    outbox_workers: u32,
    /// Bearer token a Prometheus scraper sends to `GET /metrics` (at least 24 characters).
    #[arg(long, env = "FIELDPROOF_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve `GET /metrics` on this address only (e.g. 127.0.0.1:9464), not on the main listener.
    #[arg(long, env = "FIELDPROOF_METRICS_ADDR")]
    metrics_addr: Option<String>,
    /// Whether every sign-off must carry the technician's PIN (`required`) or may (`optional`, or `off`).
    #[arg(long, env = "FIELDPROOF_SIGNOFF_PIN", value_enum, default_value_t = config::SignoffPin::Optional)]
    signoff_pin: config::SignoffPin,
}

#[derive(Subcommand)]
enum ChecklistsCommand {
    /// Check every template in DIR and report each problem with its file and item.
    Validate { dir: PathBuf },
    /// Publish every new template version in DIR (published versions never change).
    Import { dir: PathBuf },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from the first line of stdin.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long, default_value = "")]
        display_name: String,
    },
}

fn main() -> ExitCode {
    let thp = small_pages();
    let cli = Cli::parse();
    init_tracing();
    if let Err(err) = thp {
        tracing::warn!(error = %err, "cannot turn transparent huge pages off; resident memory will be higher");
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<OutputClosed>() => ExitCode::SUCCESS,
        Err(err) => {
            // One line an operator can read in a deploy log (libpq's messages span several).
            let message = format!("{err:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP` says otherwise.
///
/// why: mimalloc marks its arenas for huge pages (2 MiB) where the kernel allows them on request
/// (`madvise`, Debian's default), so every 2 MiB region it touches at all becomes resident whole. A
/// freshly started server held 104 MB, 90 MB of it in huge pages; with them off, 80 MB, and it ends
/// the load benchmark about 25 MiB lower (README, "Performance"). The allocator gains little from
/// them here: the heap is small and the time goes to the network and the database.
/// `MIMALLOC_ALLOW_THP=0` has mimalloc do the same; `=1` keeps huge pages.
#[cfg(target_os = "linux")]
fn small_pages() -> std::io::Result<()> {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return Ok(());
    }
    rustix::thread::disable_transparent_huge_pages(true).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn small_pages() -> std::io::Result<()> {
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("FIELDPROOF_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.fmt_fields(fieldproof::telemetry::EscapedFields::default()).init();
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let database = DatabaseUrl::parse(&cli.database_url)?;
    match cli.command {
        Command::Checklists(ChecklistsCommand::Validate { dir }) => {
            let versions = read_templates(&dir)?;
            let folder = dir.join(catalogue::RULES_DIR);
            let rules = catalogue::read_rule_versions(&folder)
                .map_err(|problems| report(&problems, "the severity rules", &dir))?;
            let latest = rules.last().map(|r| r.version.clone()).context("no severity rule set (v1.toml) found")?;
            let policy = read_policy(&dir)?;
            outln!(
                "ok: {} checklist versions, {} rule sets (the latest {latest}) and {} in {} are valid",
                versions.len(),
                rules.len(),
                policy.version,
                dir.display()
            );
            Ok(())
        }
        Command::Migrate => {
            let db = open(&database, cli.db_pool)?;
            outln!("applied {} migrations", db.migrate()?.len());
            Ok(())
        }
        Command::Checklists(ChecklistsCommand::Import { dir }) => {
            let db = open(&database, cli.db_pool)?;
            db.migrate()?;
            let report = import(&db, &dir)?;
            outln!("checklists: {} published, {} already published", report.published, report.unchanged);
            Ok(())
        }
        Command::Users(UsersCommand::Add { username, role, display_name }) => {
            let db = open(&database, cli.db_pool)?;
            db.migrate()?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).context("cannot read the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let mut conn = db.get()?;
            let user = workflows::users::add(
                &mut conn,
                &username,
                &display_name,
                role,
                workflows::users::NewPassword::hash(password).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?,
                &Actor::cli(),
                Clock::System.now(),
            )
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            outln!("added {} ({}) with id {}", user.username, user.role, user.id);
            Ok(())
        }
        Command::Serve(args) => serve(database, cli.db_pool, *args),
        Command::Rules(RulesCommand::Eval { rules, version, notes, scores_only }) => {
            let rules = rule_version(&rules, version.as_deref())?;
            let text = std::fs::read_to_string(&notes).with_context(|| format!("cannot read {}", notes.display()))?;
            let notes = LabelledNote::parse_many(&text).map_err(|e| anyhow::anyhow!("{}: {e}", notes.display()))?;
            print_evaluation(&Evaluation::run(&notes, &rules), scores_only)
        }
        Command::Rules(RulesCommand::Train { notes, out, rules, version }) => {
            let rules = rules.map(|folder| rule_version(&folder, version.as_deref())).transpose()?;
            train_net(&notes, &out, rules)
        }
        Command::Rules(RulesCommand::Diff { from, to, since, rules }) => {
            let db = open(&database, cli.db_pool)?;
            rules_diff(&db, &rules, &from, &to, &since)
        }
        Command::CheckConfig(args) => check_config(database, cli.db_pool, &args),
        Command::Audit(AuditCommand::Verify { head }) => {
            let saved = head.as_deref().map(saved_head).transpose()?;
            let db = open(&database, cli.db_pool)?;
            verify_audit_chains(&db, saved.as_ref())
        }
        Command::Feedback(FeedbackCommand::Link { case, settings }) => {
            feedback_link(database, cli.db_pool, &settings, case)
        }
    }
}

/// Trains the safety net on a labelled file and writes it; prints what cross-validation found, and
/// with `rules`, how that rule set grades the notes with the new net, out of fold.
fn train_net(notes: &Path, out: &Path, rules: Option<RuleSet>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(notes).with_context(|| format!("cannot read {}", notes.display()))?;
    let labelled = LabelledNote::parse_many(&text).map_err(|e| anyhow::anyhow!("{}: {e}", notes.display()))?;
    let pairs: Vec<(&str, bool)> =
        labelled.iter().map(|n| (n.note.as_str(), n.expected == Severity::SafetyCritical)).collect();
    let (file, out_of_fold) = &net::train_scored(&notes.display().to_string(), &pairs);
    std::fs::write(out, serde_json::to_string_pretty(file)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    outln!(
        "trained on {} notes ({} safety-critical); {} weights; threshold {:.4}",
        file.trained_on.count,
        file.trained_on.safety,
        file.weights.len(),
        file.threshold
    );
    outln!(
        "five-fold cross-validation: the net alone catches {:.1} % of safety notes and raises {:.1} % of the others",
        file.trained_on.cross_validated_recall * 100.0,
        file.trained_on.cross_validated_false_alarms * 100.0
    );
    if let Some(doubted) = file.trained_on.cross_validated_doubted {
        outln!(
            "between doubt {:.4} and threshold: {:.1} % of safety notes, {:.1} % of the others (to triage)",
            file.doubt.unwrap_or_default(),
            doubted.safety * 100.0,
            doubted.others * 100.0
        );
    }
    outln!("wrote {}", out.display());
    if let Some(rules) = rules {
        let evaluation = Evaluation::graded_by(&labelled, &rules.version, |i, note| {
            let judged = net::judgement(out_of_fold[i], file.threshold, file.doubt);
            severity::classify_judged(&FailureFacts::text(&note.note), &rules, |_| judged)
        });
        let title = format!(
            "{} (the net's scores out of fold; the rules may have been written from these notes)",
            notes.display()
        );
        out!("{}", evaluation.report(&title));
    }
    Ok(())
}

/// `--head`: the text itself, or the file it names.
fn saved_head(value: &str) -> anyhow::Result<fieldproof::db::chain::SavedHead> {
    let path = Path::new(value);
    let text = if !value.trim_start().starts_with('{') && path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    } else {
        value.to_owned()
    };
    fieldproof::db::chain::SavedHead::parse(&text).map_err(|e| anyhow::anyhow!("--head: {e}"))
}

/// Prints a recovery case's feedback link, with the deployment's secret and public URL.
fn feedback_link(database: DatabaseUrl, pool: u32, args: &ServeArgs, case: uuid::Uuid) -> anyhow::Result<()> {
    let Service { settings, .. } = service(database, pool, args)?;
    let db = open(&settings.database, settings.max_connections)?;
    let contact = &settings.customers;
    let links = fieldproof::credentials::links::FeedbackLinks::new(
        &settings.jwt.secret,
        &contact.public_url,
        contact.feedback_link_ttl,
    );
    let mut conn = db.get()?;
    let link = workflows::messages::reveal_feedback_link(
        &mut conn,
        &links,
        &case.to_string(),
        &Actor::cli(),
        Clock::System.now(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    outln!("{link}");
    Ok(())
}

/// Verifies every chain; prints each intact chain's row count and head hash (as `GET /v1/audit/head`
/// shows them), and each broken chain's first broken link.
fn verify_audit_chains(db: &Db, saved: Option<&fieldproof::db::chain::SavedHead>) -> anyhow::Result<()> {
    use fieldproof::db::chain::{self, Chain};
    let pending = db.pending_migrations()?;
    anyhow::ensure!(pending.is_empty(), "{} migrations pending: run `fieldproof migrate` first", pending.len());
    // Rows a running service (or a crash) left waiting for the linker are linked first, so that the
    // check covers every row written so far.
    if let Err(err) = db.link_now() {
        eprintln!("warning: rows waiting to be linked were not linked ({err:#}); they are counted as pending");
    }
    let mut conn = db.get()?;
    let (mut rows, mut broken, mut verdicts) = (0, Vec::new(), Vec::new());
    for which in Chain::ALL {
        let verdict = chain::verify(&mut conn, which)?;
        verdicts.push(verdict.clone());
        match verdict.broken {
            None => {
                outln!("{}: {} rows intact, head {}", which.name(), verdict.rows, verdict.head_hash);
                if verdict.pending > 0 {
                    outln!("{}: {} rows written since wait to be linked", which.name(), verdict.pending);
                }
                rows += verdict.rows;
            }
            Some(at) => {
                eprintln!("{}: BROKEN after {} intact rows: {at}", which.name(), verdict.rows);
                broken.push(format!("{}: {at}", which.name()));
            }
        }
    }
    if let Some(saved) = saved {
        let lost = chain::check_saved_head(&mut conn, &verdicts, saved)?;
        for problem in &lost {
            eprintln!("{problem}");
        }
        if lost.is_empty() {
            outln!("ok: every chain holds and extends the saved head");
        } else {
            broken.push(format!("the saved head is not in the chains: {}", lost.join("; ")));
        }
    }
    if !broken.is_empty() {
        anyhow::bail!("audit chain broken: {}", broken.join("; "));
    }
    outln!("ok: {} chains intact, {rows} rows", Chain::ALL.len());
    Ok(())
}

/// The matrix, then (unless `scores_only`) every miss with its reasons; stops quietly when the
/// reader goes (`| head`).
fn print_evaluation(evaluation: &Evaluation, scores_only: bool) -> anyhow::Result<()> {
    out!("{}", evaluation.report("notes"));
    if !scores_only {
        for miss in &evaluation.misses {
            outln!("\n{} expected {} graded {}: {}", miss.id, miss.expected.as_str(), miss.graded.as_str(), miss.note);
            for reason in &miss.reasons {
                outln!("    {reason}");
            }
        }
    }
    Ok(())
}

/// The rule set `version` (`2`, `v2`) in `folder`, or its latest.
fn rule_version(folder: &Path, version: Option<&str>) -> anyhow::Result<RuleSet> {
    let versions =
        catalogue::read_rule_versions(folder).map_err(|problems| report(&problems, "the rule sets", folder))?;
    let wanted = version.map(|v| format!("severity-rules/v{}", v.trim_start_matches('v')));
    let found = match &wanted {
        Some(name) => versions.into_iter().find(|r| &r.version == name),
        None => versions.into_iter().last(),
    };
    found.ok_or_else(|| anyhow::anyhow!("no rule set {} in {}", wanted.unwrap_or_default(), folder.display()))
}

fn describe(err: &fieldproof::workflows::Error) -> String {
    match err {
        fieldproof::workflows::Error::Invalid(errors) => {
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        other => format!("{other:#}"),
    }
}

fn open(database: &DatabaseUrl, pool: u32) -> anyhow::Result<Db> {
    let db = Db::connect(database, pool)?;
    db.get()?;
    Ok(db)
}

fn read_templates(dir: &Path) -> anyhow::Result<Vec<fieldproof::domain::checklist::ChecklistVersion>> {
    catalogue::read_dir(dir).map_err(|failures| {
        for failure in &failures {
            for problem in &failure.problems {
                eprintln!("{}: {problem}", failure.path.display());
            }
        }
        let count: usize = failures.iter().map(|f| f.problems.len()).sum();
        anyhow::anyhow!("{count} problems in {} checklist files under {}", failures.len(), dir.display())
    })
}

fn read_rules(dir: &Path) -> anyhow::Result<RuleSet> {
    catalogue::read_rules(dir).map_err(|problems| report(&problems, "the severity rules", dir))
}

fn read_policy(dir: &Path) -> anyhow::Result<Policy> {
    catalogue::read_policy(dir).map_err(|problems| report(&problems, "the recovery policy", dir))
}

fn report(problems: &[String], what: &str, dir: &Path) -> anyhow::Error {
    for problem in problems {
        eprintln!("{problem}");
    }
    anyhow::anyhow!("{} problems in {what} under {}", problems.len(), dir.display())
}

fn import(db: &Db, dir: &Path) -> anyhow::Result<workflows::checklists::ImportReport> {
    let versions = read_templates(dir)?;
    let mut conn = db.get()?;
    workflows::checklists::import(&mut conn, &versions, &Actor::cli(), Clock::System.now())
}

/// Everything `serve` runs with, read and validated from the flags and environment. Nothing here
/// needs a database or a runtime, so `check-config` and `serve` share it.
struct Service {
    settings: Settings,
    rules: RuleSet,
    policy: Policy,
}

fn service(database: DatabaseUrl, pool: u32, args: &ServeArgs) -> anyhow::Result<Service> {
    let webhook = match (&args.webhook_url, &args.webhook_secret) {
        (Some(url), Some(secret)) => Some(config::WebhookTarget::new(url, secret)?),
        _ => None,
    };
    let outbox = config::OutboxSettings {
        log: args.message_log || (args.smtp_url.is_none() && webhook.is_none()),
        smtp_url: args.smtp_url.clone(),
        email_from: args.email_from.clone(),
        webhook,
        ..config::OutboxSettings::default()
    };
    outbox.validate()?;
    let bind = args.bind.parse::<std::net::SocketAddr>().with_context(|| {
        format!("FIELDPROOF_BIND `{}` is not an address and port such as 127.0.0.1:8080", args.bind)
    })?;
    let metrics = config::MetricsSettings::new(args.metrics_token.as_deref(), args.metrics_addr.as_deref())?;
    anyhow::ensure!(
        metrics.addr != Some(bind),
        "FIELDPROOF_METRICS_ADDR must differ from FIELDPROOF_BIND (it is a listener of its own)"
    );
    let settings = Settings {
        jwt: config::JwtSettings {
            secret: config::resolve_jwt_secret(args.jwt_secret.as_deref(), &database)?,
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
            ttl: chrono::Duration::seconds(i64::from(args.token_ttl)),
        },
        database,
        max_connections: pool,
        body_limit: args.body_limit,
        safety: config::SafetyPolicy {
            make_safe_within: chrono::Duration::hours(i64::from(args.make_safe_hours)),
            triage_within: chrono::Duration::minutes(i64::from(args.triage_minutes)),
            retraining_within: chrono::Duration::days(i64::from(args.retraining_days)),
        },
        customers: config::CustomerContact {
            public_url: args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.bind)),
            feedback_link_ttl: chrono::Duration::days(i64::from(args.feedback_link_days)),
            outbox,
        },
        metrics,
        signoff_pin: args.signoff_pin,
    };
    let rules = read_rules(&args.checklists)?;
    let policy = read_policy(&args.checklists)?;
    read_templates(&args.checklists)?;
    Ok(Service { settings, rules, policy })
}

fn serve(database: DatabaseUrl, pool: u32, args: ServeArgs) -> anyhow::Result<()> {
    let Service { settings, rules, policy } = service(database, pool, &args)?;
    tracing::info!(version = VERSION, "fieldproof starting");
    let db = open(&settings.database, settings.max_connections)?;
    let applied = db.migrate()?;
    tracing::info!(applied = applied.len(), "migrations applied");
    let report = import(&db, &args.checklists)?;
    say!("checklists: {} published, {} already published", report.published, report.unchanged);
    if args.demo {
        demo::seed(&db)?;
    }
    let db = db.link_in_background()?;
    let state = web::Data::new(AppState::new(db, settings, rules, policy, Clock::System));
    // why: the SMTP pool, the HTTP client and the server's workers start tasks, so they are built
    // inside the runtime that runs them, not before it exists.
    actix_web::rt::System::new().block_on(async move {
        let outboxes = (0..args.outbox_workers)
            .map(|_| {
                let links = state.links.clone();
                Outbox::new(state.db.clone(), state.clock.clone(), links, state.settings.customers.outbox.clone())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let app_state = state.clone();
        // Outermost first: the request id and metrics wrap the request's span, which wraps the app.
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(fieldproof::security_headers())
                .wrap(fieldproof::telemetry::request_span())
                .wrap(actix_web::middleware::from_fn(fieldproof::telemetry::request_telemetry))
                .configure(configure(app_state.clone()))
        });
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        let grace = std::time::Duration::from_secs(u64::from(args.shutdown_grace));
        let server = server
            .shutdown_timeout(grace.as_secs())
            .bind(&args.bind)
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        say!("fieldproof listening on http://{}", args.bind);
        let metrics_server = match state.settings.metrics.addr {
            Some(addr) => {
                let metrics_state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(fieldproof::security_headers())
                        .configure(fieldproof::http::monitoring::own_listener(metrics_state.clone()))
                })
                .workers(1)
                .shutdown_timeout(grace.as_secs())
                .bind(addr)
                .with_context(|| format!("cannot listen on {addr} (FIELDPROOF_METRICS_ADDR)"))?;
                say!("fieldproof metrics on http://{addr}/metrics");
                Some(server.run())
            }
            None => None,
        };
        tracing::info!("{}", state.settings.metrics.describe());
        let upkeep = actix_web::rt::spawn(fieldproof::telemetry::upkeep());
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let outboxes: Vec<_> = outboxes.into_iter().map(std::sync::Arc::new).collect();
        let workers: Vec<_> = outboxes
            .iter()
            .map(|outbox| {
                let (outbox, stopping) = (outbox.clone(), stopping.clone());
                actix_web::rt::spawn(async move { outbox.run(stopping).await })
            })
            .collect();
        // Runs until SIGTERM or SIGINT: stops accepting connections, then lets in-flight requests
        // finish within the grace period.
        let served = match metrics_server {
            Some(metrics_server) => {
                let (served, metrics_served) = futures_util::future::join(server.run(), metrics_server).await;
                metrics_served.context("metrics server failed")?;
                served
            }
            None => server.run().await,
        };
        upkeep.abort();
        // The outbox workers finish the pass under way (within the grace period) and stop; what
        // a worker still holds after that is given back for another instance to deliver at once.
        let _ = stop.send(true);
        for (worker, outbox) in workers.into_iter().zip(&outboxes) {
            let abort = worker.abort_handle();
            if tokio::time::timeout(grace, worker).await.is_err() {
                // why: awaiting the aborted task drops its SMTP pool inside the runtime (its Drop spawns).
                abort.abort();
            }
            match outbox.release().await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "outbox claims given back"),
                Err(err) => {
                    tracing::warn!(error = %err, "outbox claims not given back; they return when the lease ends")
                }
            }
        }
        // The last writes' rows go into the audit chains now, not at the next start, once any unit of
        // work a given-up request left behind has finished.
        let db = state.db.clone();
        let linked = web::block(move || {
            if !db.wait_for_work(std::time::Duration::from_secs(10)) {
                tracing::warn!("units of work still running after 10 s; their rows are linked at the next start");
            }
            db.link_now()
        });
        if let Err(err) = linked.await.map_err(anyhow::Error::from).and_then(|r| r) {
            tracing::warn!(error = %err, "rows left unlinked; the next start links them");
        }
        served.context("server failed")?;
        tracing::info!("fieldproof stopped");
        Ok(())
    })
}

/// Validates every setting `serve` would use, reaches the database and the SMTP server, and prints
/// what it found, without starting anything.
fn check_config(database: DatabaseUrl, pool: u32, args: &ServeArgs) -> anyhow::Result<()> {
    let backend = database.backend;
    let Service { settings, rules, policy } = service(database, pool, args)?;
    let target = settings.database.redacted();
    if backend == Backend::Sqlite && !Path::new(&settings.database.target).exists() {
        outln!("ok: database: SQLite file {target} does not exist yet; `serve` creates it");
    } else {
        let db = open(&settings.database, settings.max_connections)?;
        let pending = db.pending_migrations()?;
        outln!("ok: database: {backend:?} at {target} reachable; {} migrations pending", pending.len());
    }
    outln!("ok: checklists in {}: {} and {}", args.checklists.display(), rules.version, policy.version);
    outln!("ok: listen on {}; public URL {}", args.bind, settings.customers.public_url);
    let outbox = &settings.customers.outbox;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let channels = fieldproof::outbox::Channels::new(outbox)?;
        for line in channels.probe().await? {
            outln!("ok: {line}");
        }
        anyhow::Ok(())
    })?;
    outln!("ok: {} outbox workers", args.outbox_workers);
    outln!("ok: {}", settings.metrics.describe());
    outln!("ok: {}", settings.signoff_pin.describe());
    Ok(())
}

/// Re-grades the failure reports of the last `since` that `from` graded with `to`, and prints each
/// whose grade or triage would change. Reads only.
fn rules_diff(db: &Db, folder: &Path, from: &str, to: &str, since: &str) -> anyhow::Result<()> {
    let (from, to) = (rule_version(folder, Some(from))?, rule_version(folder, Some(to))?);
    let window = parse_since(since)?;
    let mut conn = db.get()?;
    let since_at = Clock::System.now() - window;
    let reports = workflows::failures::regrade_stored(&mut conn, &from.version, &to, since_at)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let changed: Vec<_> = reports.iter().filter(|r| r.changed()).collect();
    outln!(
        "{} reports graded by {} since {}; {} would change under {}",
        reports.len(),
        from.version,
        since_at.format("%Y-%m-%d %H:%M"),
        changed.len(),
        to.version
    );
    for report in changed {
        outln!(
            "\nincident {} ({}): {} -> {}",
            report.incident_id,
            report.reported_at.format("%Y-%m-%d"),
            report.before,
            report.after
        );
        outln!("    {}", report.description);
        for reason in &report.reasons {
            outln!("    {reason}");
        }
    }
    Ok(())
}

/// `90d`, `12h`, `30m` → a duration.
fn parse_since(since: &str) -> anyhow::Result<chrono::Duration> {
    let (number, unit) = since.split_at(since.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| anyhow::anyhow!("--since `{since}`: a number and d, h or m, e.g. 90d"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        _ => anyhow::bail!("--since `{since}`: a number and d, h or m, e.g. 90d"),
    }
}
